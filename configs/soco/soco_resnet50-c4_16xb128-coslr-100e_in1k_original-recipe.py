# SoCo R50-C4 100 epochs, with the data recipe of the released model: the authors'
# tools/SoCo_C4_100ep.sh (--aug ImageAsymBboxCutout, --crop 0.6), read in docs/data_pipeline.md.
# The paper-text config's model (with roi_pooling='original') on the released recipe's data.
_base_ = [
    '../_base_/models/soco_r50_c4.py',
    '../_base_/datasets/imagenet_soco_original-recipe.py',
    '../_base_/schedules/lars_coslr_100e.py',
    '../_base_/default_runtime.py',
]

# two views, crops of 0.6-1 of the image; no box jitter anywhere, cutout in V2
train_pipeline = [
    dict(type='LoadImageOrSkip'),
    dict(type='FitProposals'),
    dict(type='SoCoOriginalViews',
         views=[dict(kind='whole', size=224), dict(kind='crop', size=224, scale=(0.6, 1.0))],
         view_transforms=[{{_base_.view_pipeline1}}, {{_base_.view_pipeline_rest_cutout}}]),
    dict(type='PackSoCoInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
model = dict(roi_pooling='original')
