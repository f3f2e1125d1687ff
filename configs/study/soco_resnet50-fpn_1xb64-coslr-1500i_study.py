# SoCo R50-FPN pretraining for the transfer study (tools/transfer_study.py): the paper's recipe
# (configs/soco/soco_resnet50-fpn_16xb128-coslr-100e_in1k.py: views, K=4, box jitter, LARS lr
# 1.0 x batch / 256, momentum 0.99 -> 1) on one device, counted in iterations.  What differs:
# the image list (the study's pretraining collection), plain BN (one device), the iteration-based
# loop and schedule.  The study sets the list, iterations, batch and view size per run.
_base_ = '../soco/soco_resnet50-fpn_16xb128-coslr-100e_in1k.py'

data_root = 'work_dirs/transfer_study/data/pretrain/images/'  # set by the study
max_iters = 1500
warmup_iters = 150  # the paper warms up over 10% of its schedule

train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        data_root=data_root,
        ann_file='../images.txt',  # '<path> 0' lines (see mmsoco/study/collection.py)
        proposals_file='../proposals.npz',
        data_prefix=dict(img_path='')))

bn, bn1d = dict(type='BN'), dict(type='BN1d')
model = dict(
    backbone=dict(norm_cfg=bn),
    neck=dict(norm_cfg=bn),
    head=dict(norm_cfg=bn),
    projector=dict(norm_cfg=bn1d),
    predictor=dict(norm_cfg=bn1d))

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
env_cfg = dict(dist_cfg=dict(backend='nccl'))
randomness = dict(seed=0)
