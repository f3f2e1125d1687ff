# SoCo R50-FPN continued for 20 epochs on the VOC 2007+2012 trainval images (16551, no labels
# used) with their selective-search proposals, from an existing ResNet-50: the "+20 epochs on the
# target images" setting.  The image list and proposals are made as in
# docs/continued_pretraining.md ("VOC07+12").
_base_ = './soco_resnet50-fpn_8xb32-coslr-20e_folder-init.py'

load_from = 'checkpoints/soco_init_r50-fpn.pth'

# trainval0712.txt: 'VOC2007/JPEGImages/000005.jpg' lines, relative to data_root
data_root = 'data/VOCdevkit/'
train_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file='trainval0712.txt', data_prefix=dict(img_path=''),
                 proposals_file='proposals_trainval0712.npz'))
