# MoCo's VOC protocol (fcn-d6_r50-d16_soco-100e_4xb4-30k_voc12aug-513x513.py) with the cosine
# schedule of the dense pretext notes: SGD lr 5e-3 -> 5e-5 over 30k iterations (their "MoCo +
# PLR, MoCoFCN" and BYOL rows).  Another start, lr or floor by --cfg-options, e.g. SimSiam's row
# (2e-3 -> 2e-4): optim_wrapper.optimizer.lr=0.002 param_scheduler.0.eta_min=0.0002.
# docs/dense_pretext.md.
_base_ = './fcn-d6_r50-d16_soco-100e_4xb4-30k_voc12aug-513x513.py'

optim_wrapper = dict(optimizer=dict(lr=0.005))
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end=30000, T_max=30000, eta_min=5e-5)
]
