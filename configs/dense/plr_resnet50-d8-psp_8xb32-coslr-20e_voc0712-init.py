# "MoCo + PLR, 200 + 20 (VOC)" with PSPNet: as the MoCoFCN config, with ResNet-50 D8 and
# PSPNet's pyramid pooling decoder (starting fresh).  docs/dense_pretext.md.
_base_ = [
    '../_base_/models/plr_r50-d8_psp.py',
    '../_base_/datasets/voc0712_plr.py',
    '../_base_/schedules/sgd_coslr_20e_init.py',
    '../_base_/default_runtime.py',
]

# written by: init2soco.py SRC checkpoints/plr_init_r50-d8-psp.pth --config <this file>
load_from = 'checkpoints/plr_init_r50-d8-psp.pth'
default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=4))
