# The data recipe of the released R50-C4 models (the authors' tools/SoCo_C4_100ep.sh and
# SoCo_C4_400ep.sh: --aug ImageAsymBboxCutout, --crop 0.6; read in docs/data_pipeline.md):
# two views, crops of 0.6-1 of the image, no box jitter anywhere, cutout in V2 only.
_base_ = './imagenet_soco_original-recipe.py'

train_pipeline = [
    dict(type='LoadImageOrSkip'),
    dict(type='FitProposals'),
    dict(type='SoCoOriginalViews',
         views=[dict(kind='whole', size=224), dict(kind='crop', size=224, scale=(0.6, 1.0))],
         view_transforms=[{{_base_.view_pipeline1}}, {{_base_.view_pipeline_rest_cutout}}]),
    dict(type='PackSoCoInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
