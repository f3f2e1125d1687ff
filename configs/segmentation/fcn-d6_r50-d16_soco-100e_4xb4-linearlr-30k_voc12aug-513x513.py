# MoCo's VOC protocol (fcn-d6_r50-d16_soco-100e_4xb4-30k_voc12aug-513x513.py) with the linear
# schedule of the dense pretext notes: SGD lr 3e-3 -> 3e-5 over 30k iterations (their MoCo,
# MoCo v2, EDMoCo and PLMoCo MoCoFCN rows).  docs/dense_pretext.md.
_base_ = './fcn-d6_r50-d16_soco-100e_4xb4-30k_voc12aug-513x513.py'

optim_wrapper = dict(optimizer=dict(lr=0.003))
param_scheduler = [
    dict(type='LinearLR', by_epoch=False, begin=0, end=30000, start_factor=1.0, end_factor=0.01)
]
