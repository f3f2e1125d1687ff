# Patch-level rotation from scratch: ResNet-50 D16 + MoCoFCN predicting the rotation of each of
# 2x2 patches, 200 epochs on ImageNet with MoCo v2's optimizer (SGD lr 0.03 for batch 256,
# momentum 0.9, weight decay 1e-4, cosine).  docs/dense_pretext.md.
_base_ = [
    '../_base_/models/plr_r50-d16_fcn-d6.py',
    '../_base_/datasets/imagenet_plr.py',
    'mmselfsup::selfsup/_base_/schedules/sgd_coslr-200e_in1k.py',
    '../_base_/default_runtime.py',
]

default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
