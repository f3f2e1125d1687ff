# Mask R-CNN R50-FPN fine-tuned from SoCo (R50-FPN, 100 epochs) on COCO, 4x schedule
# (48 epochs).  mmdet ships no 4x Mask R-CNN schedule; the steps keep the 1x/2x proportions
# (lr x0.1 at 2/3 and 11/12 of training: epochs 32 and 44).  Everything else as the 1x config.
_base_ = './mask-rcnn_r50_fpn_soco-100e_1x_coco.py'

max_epochs = 48
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[32, 44],
        gamma=0.1)
]
