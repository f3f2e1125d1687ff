# Mask R-CNN R50-FPN fine-tuned from SoCo (R50-FPN, 100 epochs) on COCO, 1x schedule.
#
# SoCo paper, fine-tuning protocol: Mask R-CNN R50-FPN, every layer fine-tuned end-to-end with
# SyncBN in the backbone, FPN and heads, standard 1x / 2x schedules, and the 4conv1fc box head with
# BN (the head SoCo pretrains).  Every layer SoCo pretrained starts from the converted checkpoint:
#   backbone.*                            <- SoCo backbone (ResNet-50)
#   neck.{lateral,fpn}_convs.{0..3}       <- SoCo FPN P2-P5 (same indices: start_level=0)
#   roi_head.bbox_head.shared_{convs,fcs} <- SoCo R-CNN head (4 conv + BN, 1 fc)
# RPN, box predictor and mask head start fresh.  Produce the checkpoint with
#   python tools/model_converters/soco2mmdet.py SOCO.pth checkpoints/soco_r50-fpn_mmdet-rcnn.pth
# and point `load_from` at it (`--cfg-options load_from=...`).
# Where the paper is silent this keeps mmdet's defaults: SGD lr 0.02 for 16 images, momentum 0.9,
# 500-iter linear warm-up, single-scale (1333, 800) training.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'

load_from = 'checkpoints/soco_r50-fpn_mmdet-rcnn.pth'  # converted SoCo checkpoint

norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    backbone=dict(
        frozen_stages=-1,  # fine-tune every stage (the SoCo release: FREEZE_AT 0)
        norm_cfg=norm_cfg,
        norm_eval=False,
        init_cfg=None),  # weights come from load_from: nothing is downloaded
    # The FPN is fine-tuned in the form it was pretrained: convs + BN (SyncBN), as in the SoCo
    # release.  `soco2mmdet.py --config` and tests/test_transfer_configs.py check they agree.
    neck=dict(norm_cfg=norm_cfg),
    roi_head=dict(
        bbox_head=dict(
            type='Shared4Conv1FCBBoxHead',  # 4conv1fc with BN: SoCo's pretrained R-CNN head
            conv_out_channels=256,
            fc_out_channels=1024,
            norm_cfg=norm_cfg),
        mask_head=dict(norm_cfg=norm_cfg)))

# The SoCo release fine-tunes with weight decay 2.5e-5 (detectron2_configs/SoCo_*.yaml).
optim_wrapper = dict(optimizer=dict(weight_decay=2.5e-5))
