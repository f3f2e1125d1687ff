# PLMoCo continued for 200 epochs on VOC 2007+2012 trainval from MoCo (200 epochs): the notes'
# row "MoCo + PLMoCo, 200 + 200 (VOC)".
_base_ = './plmoco_resnet50-d16_8xb32-coslr-20e_voc0712-init.py'

param_scheduler = [dict(type='CosineAnnealingLR', T_max=200, by_epoch=True, begin=0, end=200)]
train_cfg = dict(max_epochs=200)
default_hooks = dict(checkpoint=dict(interval=20))
