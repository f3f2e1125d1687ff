# Short form of faster-rcnn_r50-c4_soco-100e_ms-24k_voc0712.py: mmdet's (and mmselfsup's) VOC C4
# schedule, 18k iterations of 16 images, lr x0.1 at 12k and 16k.  Everything else (model,
# multi-scale data, solver, Precise BN) as the 24k config, which follows the paper (MoCo's 24k).
_base_ = './faster-rcnn_r50-c4_soco-100e_ms-24k_voc0712.py'

max_iters = 18000
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=100),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iters,
        by_epoch=False,
        milestones=[12000, 16000],
        gamma=0.1)
]
