# PLMoCo continued for 50 epochs on VOC 2007+2012 trainval from MoCo (200 epochs): the notes'
# row "MoCo + PLMoCo, 200 + 50 (VOC)".
_base_ = './plmoco_resnet50-d16_8xb32-coslr-20e_voc0712-init.py'

param_scheduler = [dict(type='CosineAnnealingLR', T_max=50, by_epoch=True, begin=0, end=50)]
train_cfg = dict(max_epochs=50)
default_hooks = dict(checkpoint=dict(interval=10))
