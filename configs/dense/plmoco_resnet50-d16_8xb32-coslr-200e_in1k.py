# Patch-level MoCo (PLMoCo) from scratch: ResNet-50 at output stride 16, 200 epochs on
# ImageNet-1k with MoCo v2's recipe (8 GPUs x 32, SGD lr 0.03, weight decay 1e-4, cosine).
# See docs/dense_pretext.md.
_base_ = [
    '../_base_/models/plmoco_r50_d16.py',
    '../_base_/datasets/imagenet_plmoco.py',
    'mmselfsup::selfsup/_base_/schedules/sgd_coslr-200e_in1k.py',
    '../_base_/default_runtime.py',
]

# the encoder's lr multiplier (the notes' "1/100 base lr for encoder"), through mmengine's
# paramwise_cfg:  --cfg-options optim_wrapper.paramwise_cfg.custom_keys.backbone.lr_mult=0.01

default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
