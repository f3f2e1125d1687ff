# BYOL R50 pretraining for the transfer study (tools/transfer_study.py): mmselfsup's own BYOL
# (model, views, LARS recipe of byol_resnet50_16xb256-coslr-200e_in1k.py) on the same image list,
# iterations and batch as the SoCo arm.  What differs: the dataset (mmcls CustomDataset over the
# study's list file), plain BN (one device), the iteration-based loop and schedule, the lr
# scaled from BYOL's 4.8 for 4096 images, and the colour jitter (below).
_base_ = 'mmselfsup::selfsup/byol/byol_resnet50_16xb256-coslr-200e_in1k.py'

# mmsoco repairs the released mmselfsup's loop registry (see mmsoco/registry.py)
custom_imports = dict(imports=['mmsoco'], allow_failed_imports=False)

data_root = 'work_dirs/transfer_study/data/pretrain/images/'  # set by the study
max_iters = 1500
warmup_iters = 150

# BYOL's two views as mmselfsup writes them, except the colour jitter: mmselfsup's ColorJitter
# calls mmcv 2.0.1's adjust_hue, which raises OverflowError under numpy 2 for every negative hue
# shift (np.uint8(hue_factor * 255)).  mmsoco's FastColorJitter draws from the same distributions
# (torchvision's ColorJitter: factors U[0.6, 1.4], U[0.6, 1.4], U[0.8, 1.2], hue U[-0.1, 0.1],
# random order, p=0.8) and is the one the SoCo arm uses.
color_jitter = dict(type='FastColorJitter', brightness=0.4, contrast=0.4, saturation=0.2,
                    hue=0.1, prob=0.8)
view_pipeline1 = [
    dict(type='RandomResizedCrop', size=224, interpolation='bicubic', backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
    color_jitter,
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='RandomGaussianBlur', sigma_min=0.1, sigma_max=2.0, prob=1.),
    dict(type='RandomSolarize', prob=0.),
]
view_pipeline2 = [
    dict(type='RandomResizedCrop', size=224, interpolation='bicubic', backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
    color_jitter,
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='RandomGaussianBlur', sigma_min=0.1, sigma_max=2.0, prob=0.1),
    dict(type='RandomSolarize', prob=0.2)
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=[1, 1], transforms=[view_pipeline1, view_pipeline2]),
    dict(type='PackSelfSupInputs', meta_keys=['img_path'])
]

train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    # inherited across packages, the base's collate_fn carries a '_scope_' key that mmengine's
    # Runner would pass on to default_collate as an argument: restate it without
    collate_fn=dict(_delete_=True, type='default_collate'),
    dataset=dict(
        type='mmcls.CustomDataset',
        data_root=data_root,
        ann_file='../images.txt',
        data_prefix='',
        pipeline=train_pipeline))

bn1d = dict(type='BN1d')
model = dict(
    backbone=dict(norm_cfg=dict(type='BN')),
    neck=dict(norm_cfg=bn1d),
    head=dict(predictor=dict(norm_cfg=bn1d)))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='CosineAnnealingLR', T_max=max_iters - warmup_iters, by_epoch=False,
         begin=warmup_iters, end=max_iters),
]
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(by_epoch=False, interval=500, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
# lr 4.8 for 4096 images (BYOL's 16xb256 config), scaled to the batch used
auto_scale_lr = dict(base_batch_size=4096, enable=True)
randomness = dict(seed=0)
