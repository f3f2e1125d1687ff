# The demo config with narrow layers (ResNet-18, 64-channel FPN, 512-wide MLPs) and 96 px views,
# for the launcher, distributed and resume tests.  Structure and schedule are the demo's.
_base_ = '../../configs/soco/soco_resnet50-fpn_1xb4-coslr-2e_demo.py'

custom_imports = dict(imports=['mmsoco', 'dist_digest_hook'], allow_failed_imports=False)
custom_hooks = [dict(type='ParamDigestHook')]

view_pipeline1 = {{_base_.view_pipeline1}}
view_pipeline2 = {{_base_.view_pipeline2}}
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    dataset=dict(pipeline=[
        dict(type='LoadImageOrSkip'),
        dict(type='SelectProposals', num_proposals=4),
        dict(type='SoCoViews',
             views=[dict(kind='whole', size=96), dict(kind='crop', size=96),
                    dict(kind='downsample', size=48)],
             view_transforms=[view_pipeline1, view_pipeline2, view_pipeline2]),
        dict(type='PackSoCoInputs'),
    ]))
model = dict(
    backbone=dict(depth=18),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=64),
    roi_extractor=dict(out_channels=64),
    head=dict(in_channels=64, conv_out_channels=64, fc_out_channels=256),
    projector=dict(in_channels=256, hid_channels=512, out_channels=128),
    predictor=dict(in_channels=128, hid_channels=512, out_channels=128))
