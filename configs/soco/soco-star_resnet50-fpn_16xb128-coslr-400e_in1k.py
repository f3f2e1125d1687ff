# SoCo*: SoCo with a fourth view V4 (another crop of V1, 192x192), 400 epochs on ImageNet-1k.
_base_ = './soco_resnet50-fpn_16xb128-coslr-400e_in1k.py'

view_pipeline1 = {{_base_.view_pipeline1}}
view_pipeline2 = {{_base_.view_pipeline2}}
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadImageOrSkip'),
        dict(type='SelectProposals', num_proposals=4),
        dict(type='SoCoViews',
             v1_size=224,
             v2_size=224, v2_scale=(0.5, 1.0),
             v3_size=112, v3_mode='downsample',
             v4_size=192, v4_scale=(0.5, 1.0),
             view_transforms=[view_pipeline1, view_pipeline2, view_pipeline2, view_pipeline2]),
        dict(type='PackSoCoInputs'),
    ]))
model = dict(view_pairs=[(0, 1), (0, 2), (0, 3)])  # adds V1<->V4
