# SoCo R50-FPN 400 epochs, with the data recipe of the released model: the authors'
# tools/SoCo_FPN_400ep.sh (--aug ImageAsymBboxAwareMultiJitter1), read in
# docs/data_pipeline.md: the 100-epoch recipe without the cutout.  The paper-text config's
# model, with roi_pooling='original' (V1 is embedded once per pair, with its boxes).
_base_ = [
    '../_base_/models/soco_r50_fpn.py',
    '../_base_/datasets/imagenet_soco_original-recipe.py',
    '../_base_/schedules/lars_coslr_400e.py',
    '../_base_/default_runtime.py',
]

# V1 with box jitter; V2, V3 (independent crops, 224 and 112) without jitter or cutout
train_pipeline = [
    dict(type='LoadImageOrSkip'),
    dict(type='FitProposals'),
    dict(type='SoCoOriginalViews',
         views=[dict(kind='whole', size=224), dict(kind='crop', size=224, scale=(0.5, 1.0)),
                dict(kind='crop', size=112, scale=(0.5, 1.0))],
         view_transforms=[{{_base_.view_pipeline_v1_jitter}}, {{_base_.view_pipeline_rest}},
                          {{_base_.view_pipeline_rest}}]),
    dict(type='PackSoCoInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
model = dict(roi_pooling='original')
