# Non-local (nonlocal_r50-d8_soco-100e_4xb4-20k_voc12aug-512x512.py:
# mmseg's recipe, 512 crops) with the cosine schedule of the dense pretext notes: SGD lr 5e-3 ->
# 5e-5 over 30k iterations.  The notes give the schedule only; crop, batch and weight decay stay
# the recipe's.  docs/dense_pretext.md.
_base_ = './nonlocal_r50-d8_soco-100e_4xb4-20k_voc12aug-512x512.py'

optim_wrapper = dict(optimizer=dict(lr=0.005))
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end=30000, T_max=30000, eta_min=5e-5)
]
train_cfg = dict(max_iters=30000, val_interval=3000)
default_hooks = dict(checkpoint=dict(interval=3000))
