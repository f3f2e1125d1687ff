# "MoCo + EDMoCo, 200 + 20 (VOC)", "pre-trained with PSPNet, 1/100 base lr for encoder": as the
# MoCoFCN config, with ResNet-50 D8 and PSPNet's decoder, and the encoder (the encoder-decoder's
# ResNet) at 1/100 of the lr.  docs/dense_pretext.md.
_base_ = [
    '../_base_/models/edmoco_r50-d8_psp.py',
    '../_base_/datasets/voc0712_mocov2.py',
    '../_base_/schedules/sgd_coslr_20e_init.py',
    '../_base_/default_runtime.py',
]

optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'backbone.backbone': dict(lr_mult=0.01)}))
# written by: init2soco.py SRC checkpoints/edmoco_init_r50-d8-psp.pth --config <this file>
load_from = 'checkpoints/edmoco_init_r50-d8-psp.pth'
default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=4))
