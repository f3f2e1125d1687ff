# Mask R-CNN R50-C4 fine-tuned from SoCo (R50-C4, 100 epochs) on COCO, 1x schedule, with the
# SoCo release's Detectron2 protocol (detectron2_configs/SoCo_C4_100ep.yaml on MoCo's
# Base-RCNN-C4-BN: data, solver and Precise BN in ./_base_/soco-d2_ms-90k_coco-instance.py);
# docs/transfer.md compares it point by point.
#
# SoCo C4 pretrains res2-res4 as the backbone and res5 as the RoI head, the C4 detector's split:
#   backbone.* (conv1, layer1-3)          <- SoCo backbone (3-stage ResNet-50)
#   roi_head.shared_head.layer4.*         <- SoCo head (res5)
# RPN, box predictor, mask head and the extra BN after res5 start fresh.  Produce the checkpoint
#   python tools/model_converters/soco2mmdet.py SOCO_C4.pth checkpoints/soco_r50-c4_mmdet.pth
# and point `load_from` at it.
# mmdet's C4 model is caffe-style for Detectron's weights; SoCo's ResNet is pytorch-style (stride
# in the 3x3 conv) and normalises RGB with the ImageNet mean/std, so both are switched here.
# Short form (mmselfsup/mmdet single-scale training):
#   --cfg-options "train_dataloader.dataset.pipeline.2.scales=[(1333,800)]"
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50-caffe-c4.py',
    './_base_/soco-d2_ms-90k_coco-instance.py'
]

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
        # res5 + an extra BN on its output: Detectron2's Res5ROIHeadsExtraNorm
        shared_head=dict(
            type='mmselfsup.ResLayerExtraNorm',
            style='pytorch',
            norm_cfg=norm_cfg,
            norm_eval=False,
            init_cfg=None)))
# RPN at test time: 6000 boxes before NMS, 1000 after (mmdet's C4 model already has them).
