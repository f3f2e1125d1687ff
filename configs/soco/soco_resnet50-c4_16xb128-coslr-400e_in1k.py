# SoCo R50-C4, two views, 400 epochs on ImageNet-1k.
_base_ = './soco_resnet50-c4_16xb128-coslr-100e_in1k.py'

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=390, by_epoch=True, begin=10, end=400,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=400)
