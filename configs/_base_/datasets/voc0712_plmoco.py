# PLMoCo's views (imagenet_plmoco.py) of the VOC 2007+2012 trainval images (16551, no labels
# used), the collection of voc0712_mocov2.py: trainval0712.txt holds
# 'VOC2007/JPEGImages/000005.jpg' lines relative to data_root (docs/continued_pretraining.md).
_base_ = './imagenet_plmoco.py'

data_root = 'data/VOCdevkit/'
train_dataloader = dict(
    dataset=dict(type='ImageList', data_root=data_root, ann_file='trainval0712.txt',
                 data_prefix=dict(img_path='')))
