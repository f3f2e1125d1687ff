# SoCo*: SoCo with a fourth view V4 (another crop of V1, 192x192), 400 epochs on ImageNet-1k.
_base_ = './soco_resnet50-fpn_16xb128-coslr-400e_in1k.py'

view_pipeline1 = {{_base_.view_pipeline1}}
view_pipeline2 = {{_base_.view_pipeline2}}
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadImageOrSkip'),
        dict(type='SelectProposals', num_proposals=4),
        dict(type='SoCoViews',
             views=[dict(kind='whole', size=224),
                    dict(kind='crop', size=224, scale=(0.5, 1.0)),
                    dict(kind='downsample', size=112, source=1),
                    dict(kind='crop', size=192, scale=(0.5, 1.0))],   # V4: another crop
             view_transforms=[view_pipeline1, view_pipeline2, view_pipeline2, view_pipeline2]),
        dict(type='PackSoCoInputs'),
    ]))
model = dict(view_pairs=[(0, 1), (0, 2), (0, 3)])  # adds V1<->V4
