# MoCo's VOC protocol (fcn-d6_r50-d16_soco-100e_4xb4-30k_voc12aug-513x513.py) from a random
# initialisation, as the dense pretext notes' RandomInit row: SGD lr 1e-2 -> 1e-4, poly decay
# (power 0.9) over 160k iterations.  Their second figure stops after 32k iterations of the same
# schedule: --cfg-options train_cfg.max_iters=32000.  docs/dense_pretext.md.
_base_ = './fcn-d6_r50-d16_soco-100e_4xb4-30k_voc12aug-513x513.py'

model = dict(backbone=dict(init_cfg=None))  # mmseg's default initialisation, nothing loaded
optim_wrapper = dict(optimizer=dict(lr=0.01))
param_scheduler = [
    dict(type='PolyLR', by_epoch=False, begin=0, end=160000, eta_min=1e-4, power=0.9)
]
train_cfg = dict(max_iters=160000, val_interval=16000)
default_hooks = dict(checkpoint=dict(interval=16000))
