# "MoCo + EDMoCo, 200 + 20 (VOC)", "pre-trained with MoCoFCN, same lr for all params": an existing
# ResNet-50 continued for 20 epochs on the VOC 2007+2012 trainval images with MoCo v2 on the
# pooled MoCoFCN output, the decoder and projector starting fresh.  docs/dense_pretext.md.
_base_ = [
    '../_base_/models/edmoco_r50-d16_fcn-d6.py',
    '../_base_/datasets/voc0712_mocov2.py',
    '../_base_/schedules/sgd_coslr_20e_init.py',
    '../_base_/default_runtime.py',
]

# written by: init2soco.py SRC checkpoints/edmoco_init_r50-d16-fcn-d6.pth --config <this file>
load_from = 'checkpoints/edmoco_init_r50-d16-fcn-d6.pth'
default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=4))
