# PLMoCo continued for 2 epochs on ImageNet-1k from MoCo (200 epochs): the notes' row
# "MoCo + PLMoCo, 200 + 2 (IN)".  The start checkpoint holds the MoCo backbone (and its global
# projector) with the key encoder equal to the query encoder; the per-cell projector starts fresh.
_base_ = './plmoco_resnet50-d16_8xb32-coslr-200e_in1k.py'

# written by: init2soco.py SRC checkpoints/plmoco_init_r50-d16.pth --config <this file>
load_from = 'checkpoints/plmoco_init_r50-d16.pth'

param_scheduler = [dict(type='CosineAnnealingLR', T_max=2, by_epoch=True, begin=0, end=2)]
train_cfg = dict(max_epochs=2)
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=2))
