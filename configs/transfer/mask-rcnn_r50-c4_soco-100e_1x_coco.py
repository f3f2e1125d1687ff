# Mask R-CNN R50-C4 fine-tuned from SoCo (R50-C4, 100 epochs) on COCO, 1x schedule.
#
# SoCo paper, fine-tuning protocol: Mask R-CNN R50-C4, every layer fine-tuned end-to-end with
# SyncBN, standard 1x / 2x schedules.  SoCo C4 pretrains res2-res4 as the backbone and res5 as the
# RoI head, which is exactly the C4 detector's split:
#   backbone.* (conv1, layer1-3)          <- SoCo backbone (3-stage ResNet-50)
#   roi_head.shared_head.layer4.*         <- SoCo head (res5)
# RPN, box predictor and mask head start fresh.  Produce the checkpoint with
#   python tools/model_converters/soco2mmdet.py SOCO_C4.pth checkpoints/soco_r50-c4_mmdet.pth
# and point `load_from` at it.
# mmdet's C4 base is caffe-style for Detectron's weights; SoCo's ResNet is pytorch-style (stride in
# the 3x3 conv) and normalises RGB with the ImageNet mean/std, so both are switched here.
# Where the paper is silent this keeps mmdet's defaults: SGD lr 0.02 for 16 images, momentum 0.9,
# 500-iter linear warm-up, single-scale (1333, 800) training.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50-caffe-c4_1x_coco.py'

load_from = 'checkpoints/soco_r50-c4_mmdet.pth'  # converted SoCo C4 checkpoint

norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(
        style='pytorch',
        frozen_stages=-1,  # fine-tune every stage (the SoCo release: FREEZE_AT 0)
        norm_cfg=norm_cfg,
        norm_eval=False,
        init_cfg=None),  # weights come from load_from: nothing is downloaded
    roi_head=dict(
        shared_head=dict(
            style='pytorch', norm_cfg=norm_cfg, norm_eval=False, init_cfg=None)))

# The SoCo release fine-tunes with weight decay 2.5e-5 (detectron2_configs/SoCo_*.yaml).
optim_wrapper = dict(optimizer=dict(weight_decay=2.5e-5))
