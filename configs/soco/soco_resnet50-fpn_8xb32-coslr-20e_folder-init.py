# SoCo R50-FPN continued for 20 epochs on a folder of your own images (8 GPUs x 32 = 256), from
# an existing ResNet-50 converted by tools/model_converters/init2soco.py (torchvision,
# mmselfsup/mmpretrain MoCo v2, BYOL, DenseCL, mmsoco or the SoCo release).  The choices and
# the recipe are in docs/continued_pretraining.md.
_base_ = [
    '../_base_/models/soco_r50_fpn.py',
    '../_base_/datasets/imagenet_soco.py',
    '../_base_/schedules/lars_coslr_20e_init.py',
    '../_base_/default_runtime.py',
]

# written by: init2soco.py SRC checkpoints/soco_init_r50-fpn.pth --config <this file>
load_from = 'checkpoints/soco_init_r50-fpn.pth'

# every image under data/my_images/images/ (recursive), and its proposals:
# python -m data_prep.generate_proposals data/my_images/images --out data/my_images/proposals.npz
data_root = 'data/my_images/'
train_dataloader = dict(
    batch_size=32,
    dataset=dict(data_root=data_root, ann_file='', data_prefix=dict(img_path='images/'),
                 proposals_file='proposals.npz'))

default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=4))
