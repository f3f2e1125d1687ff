# Patch-level rotation from scratch on MMPretrain: configs/dense/
# plr_resnet50-d16-fcn-d6_8xb32-coslr-200e_in1k.py (ResNet-50 D16 + MoCoFCN predicting the
# rotation of each of 2x2 patches, 200 epochs on ImageNet, MoCo v2's SGD and cosine) with
# mmpretrain's runtime, its copy of that schedule, its ImageNet dataset and its packing.
_base_ = [
    '../_base_/models/plr_r50-d16_fcn-d6.py',
    '../_base_/datasets/imagenet_plr.py',
    'mmpretrain::_base_/schedules/imagenet_sgd_coslr_200e.py',
    './_base_/default_runtime.py',
]

default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))

# mmpretrain's names: its ImageNet; its RandomResizedCrop (scale: the output size,
# crop_ratio_range: the area range); PackInputs, which keeps the label map as a field of the
# sample (PatchRotation reads it there or in mmselfsup's pseudo_label)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale={{_base_.crop_size}}, crop_ratio_range=(0.2, 1.),
         backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomPatchRotate', crop_size={{_base_.crop_size}}, grid=2, gap=0,
         patch_color_jitter=None),
    dict(type='PackInputs', algorithm_keys=['patch_rot'], meta_keys=['img_path']),
]
train_dataloader = dict(dataset=dict(type='ImageNet', pipeline=train_pipeline))
