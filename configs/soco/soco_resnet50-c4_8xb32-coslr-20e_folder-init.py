# SoCo R50-C4 continued for 20 epochs on a folder of your own images (8 GPUs x 32 = 256): as
# soco_resnet50-fpn_8xb32-coslr-20e_folder-init.py, with the C4 model (the source's layer4 becomes
# the res5 RoI head, init2soco.py maps it).  See docs/continued_pretraining.md.
_base_ = [
    '../_base_/models/soco_r50_c4.py',
    '../_base_/datasets/imagenet_soco_2views.py',
    '../_base_/schedules/lars_coslr_20e_init.py',
    '../_base_/default_runtime.py',
]

# written by: init2soco.py SRC checkpoints/soco_init_r50-c4.pth --config <this file>
load_from = 'checkpoints/soco_init_r50-c4.pth'

data_root = 'data/my_images/'
train_dataloader = dict(
    batch_size=32,
    dataset=dict(data_root=data_root, ann_file='', data_prefix=dict(img_path='images/'),
                 proposals_file='proposals.npz'))

default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=4))
