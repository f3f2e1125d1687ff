# Mask R-CNN R50-FPN fine-tuned from SoCo (R50-FPN, 100 epochs) on COCO, 2x schedule as
# Detectron2 counts it: 180k iterations, lr x0.1 at 120k and 160k.  Everything else as the 1x
# config (the SoCo release's protocol).
_base_ = './mask-rcnn_r50_fpn_soco-100e_1x_coco.py'

max_iters = 180000
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iters,
        by_epoch=False,
        milestones=[120000, 160000],
        gamma=0.1)
]
