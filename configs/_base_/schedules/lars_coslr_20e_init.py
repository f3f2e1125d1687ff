# Continued pretraining from an existing model: SoCo's LARS recipe (lr 1.0 x batch / 256, weight
# decay 1e-5, cosine) over 20 epochs, warm-up over the first 2 (10% of the run, the proportion
# of the 100-epoch schedule).  See docs/continued_pretraining.md for why.
_base_ = './lars_coslr_100e.py'

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=2,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=18, by_epoch=True, begin=2, end=20,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=20)
