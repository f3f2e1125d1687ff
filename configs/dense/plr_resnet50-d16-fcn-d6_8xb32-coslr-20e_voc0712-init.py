# "MoCo + PLR, 200 + 20 (VOC)" with MoCoFCN: an existing ResNet-50 (MoCo v2 200 epochs, or
# torchvision) continued for 20 epochs on the VOC 2007+2012 trainval images with patch-level
# rotation (2x2 patches), the MoCoFCN decoder starting fresh.  docs/dense_pretext.md.
_base_ = [
    '../_base_/models/plr_r50-d16_fcn-d6.py',
    '../_base_/datasets/voc0712_plr.py',
    '../_base_/schedules/sgd_coslr_20e_init.py',
    '../_base_/default_runtime.py',
]

# written by: init2soco.py SRC checkpoints/plr_init_r50-d16-fcn-d6.pth --config <this file>
load_from = 'checkpoints/plr_init_r50-d16-fcn-d6.pth'
default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=4))
