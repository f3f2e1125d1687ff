# MoCo v2's views (imagenet_mocov2.py: two 224 px crops, colour jitter, grayscale, blur, flip) of
# the VOC 2007+2012 trainval images (16551, no labels used), the collection
# configs/soco/soco_resnet50-fpn_8xb32-coslr-20e_voc0712-init.py reads: trainval0712.txt holds
# 'VOC2007/JPEGImages/000005.jpg' lines relative to data_root (docs/continued_pretraining.md).
_base_ = './imagenet_mocov2.py'

data_root = 'data/VOCdevkit/'
train_dataloader = dict(
    dataset=dict(type='ImageList', data_root=data_root, ann_file='trainval0712.txt',
                 data_prefix=dict(img_path='')))
