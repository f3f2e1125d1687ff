# SoCo* R50-FPN 400 epochs, with the data recipe of the released model: the authors'
# tools/SoCo_FPN_Star_400ep.sh (--aug ImageAsymBboxAwareMulti3ResizeExtraJitter1,
# --image3_size 192 --image4_size 112), read in docs/data_pipeline.md.  The paper-text config's
# model, with roi_pooling='original'.  The views by role, as in the paper-text config: V2 a
# 224 crop, a 192 crop and V2 resized to 112 (which shares V2's proposals and V1 boxes); only
# their order differs (the original's: the 192 crop is V3, the 112 view V4).
_base_ = [
    '../_base_/models/soco_r50_fpn.py',
    '../_base_/datasets/imagenet_soco_original-recipe.py',
    '../_base_/schedules/lars_coslr_400e.py',
    '../_base_/default_runtime.py',
]

train_pipeline = [
    dict(type='LoadImageOrSkip'),
    dict(type='FitProposals'),
    dict(type='SoCoOriginalViews',
         views=[dict(kind='whole', size=224), dict(kind='crop', size=224, scale=(0.5, 1.0)),
                dict(kind='crop', size=192, scale=(0.5, 1.0)),
                dict(kind='downsample', size=112, source=1)],
         view_transforms=[{{_base_.view_pipeline_v1_jitter}}, {{_base_.view_pipeline_rest}},
                          {{_base_.view_pipeline_rest}}, {{_base_.view_pipeline_rest}}]),
    dict(type='PackSoCoInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
model = dict(roi_pooling='original', view_pairs=[(0, 1), (0, 2), (0, 3)])  # adds V1<->V4
