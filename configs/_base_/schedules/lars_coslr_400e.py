_base_ = './lars_coslr_100e.py'

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=390, by_epoch=True, begin=10, end=400,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=400)
