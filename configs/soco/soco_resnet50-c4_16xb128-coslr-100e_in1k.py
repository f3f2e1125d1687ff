# SoCo R50-C4: RoIAlign on C4, res5 as the head, two views (V1, V2), 100 epochs on ImageNet-1k.
_base_ = [
    '../_base_/models/soco_r50_c4.py',
    '../_base_/datasets/imagenet_soco.py',
    '../_base_/schedules/lars_coslr_100e.py',
    '../_base_/default_runtime.py',
]

view_pipeline1 = {{_base_.view_pipeline1}}
view_pipeline2 = {{_base_.view_pipeline2}}
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='SelectProposals', num_proposals=4),
        dict(type='SoCoViews', v1_size=224, v2_size=224, v2_scale=(0.5, 1.0), v3_size=None,
             view_transforms=[view_pipeline1, view_pipeline2]),
        dict(type='PackSoCoInputs'),
    ]))
