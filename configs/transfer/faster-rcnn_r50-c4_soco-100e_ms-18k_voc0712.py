# Faster R-CNN R50-C4 fine-tuned from SoCo (R50-C4, 100 epochs) on Pascal VOC 07+12 trainval,
# evaluated on VOC 2007 test (mAP, and AP50 = VOC metric).
#
# Same transfer as the COCO C4 configs: backbone res2-res4 <- SoCo backbone, res5 shared head <-
# SoCo head, SyncBN everywhere, all stages fine-tuned.  The schedule is mmdet's VOC C4 default
# (18k iterations of 16 images, lr 0.02, x0.1 at 12k and 16k, multi-scale 480-800 training).
# The usual self-supervised VOC protocol (MoCo, Detectron2) runs 24k iterations with steps at
# 18k and 22k; to match it:
#   --cfg-options train_cfg.max_iters=24000 param_scheduler.1.end=24000 \
#                 "param_scheduler.1.milestones=[18000,22000]"
_base_ = 'mmdet::pascal_voc/faster-rcnn_r50-caffe-c4_ms-18k_voc0712.py'

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
            style='pytorch', norm_cfg=norm_cfg, norm_eval=False, init_cfg=None)))

# The SoCo release fine-tunes with weight decay 2.5e-5 (detectron2_configs/SoCo_*.yaml).
optim_wrapper = dict(optimizer=dict(weight_decay=2.5e-5))
