# The demo on MMPretrain: configs/soco/soco_resnet50-fpn_1xb4-coslr-2e_demo.py (the real SoCo
# R50-FPN recipe on the demo collection that tools/demo.py writes, 2 short epochs on a CPU) on
# top of the MMPretrain ImageNet config.  tests/test_mmpretrain_route.py checks that the two demos
# differ only in what the host changes.
_base_ = './soco_resnet50-fpn_16xb128-coslr-100e_in1k_mmpretrain.py'

data_root = 'work_dirs/demo/data/'
train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    persistent_workers=False,
    dataset=dict(data_root=data_root, proposals_file='proposals.npz',
                 data_prefix=dict(img_path='train/')))

# SyncBN synchronises across GPUs only: plain BN on CPU (and in gloo runs)
bn, bn1d = dict(type='BN'), dict(type='BN1d')
model = dict(
    backbone=dict(norm_cfg=bn),
    neck=dict(norm_cfg=bn),
    head=dict(norm_cfg=bn),
    projector=dict(norm_cfg=bn1d),
    predictor=dict(norm_cfg=bn1d))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=1, by_epoch=True, begin=1, end=2,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=2)

default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=1, max_keep_ckpts=2))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
