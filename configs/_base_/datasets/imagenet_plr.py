# Patch-level rotation data: a 224 px RandomResizedCrop (as MoCo v2's, scale 0.2-1) and a flip,
# then RandomPatchRotate cuts it into grid x grid patches and rotates each by k x 90 degrees.
# grid 2 (4 patches): the notes report that 16 patches (grid 4) left the loss stuck at a very
# early stage.  gap and per-patch colour jitter counter the seams; off, as in the notes.
dataset_type = 'mmcls.ImageNet'
data_root = 'data/imagenet/'
crop_size = 224
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', size=crop_size, scale=(0.2, 1.), backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomPatchRotate', crop_size=crop_size, grid=2, gap=0, patch_color_jitter=None),
    dict(type='PackSelfSupInputs', meta_keys=['img_path'], pseudo_label_keys=['patch_rot']),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    drop_last=True,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='meta/train.txt',
        data_prefix=dict(img_path='train/'),
        pipeline=train_pipeline))
