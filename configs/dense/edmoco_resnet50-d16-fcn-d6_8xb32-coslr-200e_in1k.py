# Encoder-decoder MoCo from scratch: mmselfsup's MoCo v2 (its views, optimizer and 200-epoch
# cosine schedule on ImageNet) whose encoder is ResNet-50 D16 + MoCoFCN, the decoder output
# average-pooled.  docs/dense_pretext.md.
_base_ = [
    '../_base_/models/edmoco_r50-d16_fcn-d6.py',
    '../_base_/datasets/imagenet_mocov2.py',
    'mmselfsup::selfsup/_base_/schedules/sgd_coslr-200e_in1k.py',
    '../_base_/default_runtime.py',
]

default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
