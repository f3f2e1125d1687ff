# "MoCo + PLEDMoCo, 200 + 20 (VOC)", "pre-trained with MoCoFCN, 1/100 base lr for encoder": an
# existing ResNet-50 continued for 20 epochs on the VOC 2007+2012 trainval images with patch-level
# MoCo on the MoCoFCN output, decoder and projector starting fresh, the encoder (the
# encoder-decoder's ResNet) at 1/100 of the lr.  docs/dense_pretext.md.
_base_ = [
    '../_base_/models/pledmoco_r50-d16_fcn-d6.py',
    '../_base_/datasets/voc0712_plmoco.py',
    '../_base_/schedules/sgd_coslr_20e_init.py',
    '../_base_/default_runtime.py',
]

optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'backbone.backbone': dict(lr_mult=0.01)}))
# written by: init2soco.py SRC checkpoints/pledmoco_init_r50-d16-fcn-d6.pth --config <this file>
load_from = 'checkpoints/pledmoco_init_r50-d16-fcn-d6.pth'
default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=4))
