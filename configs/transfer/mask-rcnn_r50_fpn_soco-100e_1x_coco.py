# Mask R-CNN R50-FPN fine-tuned from SoCo (R50-FPN, 100 epochs) on COCO, 1x schedule, with the
# SoCo release's Detectron2 protocol (detectron2_configs/R_50_FPN_1x.yaml + SoCo_FPN_100ep.yaml:
# data, solver and Precise BN in ./_base_/soco-d2_ms-90k_coco-instance.py); docs/transfer.md
# compares it point by point.
#
# Every layer SoCo pretrained starts from the converted checkpoint:
#   backbone.*                            <- SoCo backbone (ResNet-50)
#   neck.{lateral,fpn}_convs.{0..3}       <- SoCo FPN P2-P5 (same indices: start_level=0)
#   roi_head.bbox_head.shared_{convs,fcs} <- SoCo R-CNN head (4 conv + BN, 1 fc)
# RPN, box predictor and mask head start fresh.  Produce the checkpoint with
#   python tools/model_converters/soco2mmdet.py SOCO.pth checkpoints/soco_r50-fpn_mmdet-rcnn.pth
# and point `load_from` at it (`--cfg-options load_from=...`).
# Short form (mmselfsup/mmdet single-scale training):
#   --cfg-options "train_dataloader.dataset.pipeline.2.scales=[(1333,800)]"
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py', './_base_/soco-d2_ms-90k_coco-instance.py'
]

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
