# Faster R-CNN R50-C4 fine-tuned from SoCo (R50-C4, 100 epochs) on Pascal VOC 07+12 trainval,
# evaluated on VOC 2007 test (mAP, and AP50 = VOC metric), with MoCo's VOC protocol, which the
# SoCo paper follows (MoCo detection/configs/pascal_voc_R_50_C4_24k.yaml on Base-RCNN-C4-BN):
# 24k iterations of 16 images, lr 0.02, x0.1 at 18k and 22k, 100 warm-up iterations,
# multi-scale training (shorter side 480..800 step 32), test at 800, SyncBN everywhere, all stages
# fine-tuned, res5 + extra BN as the RoI head, Precise BN.
#
# Same transfer as the COCO C4 configs: backbone res2-res4 <- SoCo backbone, res5 shared head <-
# SoCo head; the extra BN after res5, RPN and box predictor start fresh.
# Short form (mmdet's VOC C4 schedule, 18k iterations, steps at 12k and 16k):
#   faster-rcnn_r50-c4_soco-100e_ms-18k_voc0712.py
_base_ = 'mmdet::pascal_voc/faster-rcnn_r50-caffe-c4_ms-18k_voc0712.py'
custom_imports = dict(imports=['mmsoco'], allow_failed_imports=False)

load_from = 'checkpoints/soco_r50-c4_mmdet.pth'  # converted SoCo C4 checkpoint

norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(
        style='pytorch',
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,
        init_cfg=None),  # weights come from load_from: nothing is downloaded
    roi_head=dict(
        shared_head=dict(
            type='mmselfsup.ResLayerExtraNorm',  # Detectron2's Res5ROIHeadsExtraNorm
            style='pytorch',
            norm_cfg=norm_cfg,
            norm_eval=False,
            init_cfg=None)))

max_iters = 24000
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)  # evaluated at the end
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=100),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iters,
        by_epoch=False,
        milestones=[18000, 22000],
        gamma=0.1)
]
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=4000))

# VOC07 test as Detectron2's PascalVOCDetectionEvaluator reports it (MoCo's AP, AP50, AP75):
# 11-point AP at IoU 0.5, 0.55, ..., 0.95; `mAP` is their mean, `AP50` the VOC metric.
val_evaluator = dict(iou_thrs=[0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95])
test_evaluator = val_evaluator

# Solver and Precise BN as the COCO configs (./_base_/soco-d2_ms-90k_coco-instance.py): weight
# decay 2.5e-5 (the release's SoCo_*.yaml), none on norm layers, 1e-4 on the other biases.
optim_wrapper = dict(
    optimizer=dict(weight_decay=2.5e-5),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=4.0))
custom_hooks = [dict(type='mmselfsup.DetPreciseBNHook', num_samples=3200)]
