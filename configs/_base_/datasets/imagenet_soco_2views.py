# The ImageNet SoCo data with two views (V1, V2), as the C4 variant trains.
_base_ = './imagenet_soco.py'

view_pipeline1 = {{_base_.view_pipeline1}}
view_pipeline2 = {{_base_.view_pipeline2}}
train_pipeline = [
    dict(type='LoadImageOrSkip'),
    dict(type='SelectProposals', num_proposals=4),
    dict(type='SoCoViews',
         views=[dict(kind='whole', size=224), dict(kind='crop', size=224, scale=(0.5, 1.0))],
         view_transforms=[view_pipeline1, view_pipeline2]),
    dict(type='PackSoCoInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
