# Patch-level encoder-decoder MoCo from scratch: ResNet-50 D16 + MoCoFCN, 200 epochs on
# ImageNet-1k with MoCo v2's recipe (8 GPUs x 32, SGD lr 0.03, cosine), every parameter at the
# same lr.  docs/dense_pretext.md.
_base_ = [
    '../_base_/models/pledmoco_r50-d16_fcn-d6.py',
    '../_base_/datasets/imagenet_plmoco.py',
    'mmselfsup::selfsup/_base_/schedules/sgd_coslr-200e_in1k.py',
    '../_base_/default_runtime.py',
]

default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
