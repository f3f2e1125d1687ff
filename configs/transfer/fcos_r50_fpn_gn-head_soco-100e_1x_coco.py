# FCOS R50-FPN (GN head) fine-tuned from SoCo (R50-FPN, 100 epochs) on COCO, 1x schedule.
#
# FCOS takes SoCo's backbone and FPN.  Its FPN has start_level=1 and P3-P7, SoCo's has
# start_level=0 and P2-P5, so the converter shifts the FPN indices (--det fcos):
#   neck.lateral_convs.{0,1,2} / neck.fpn_convs.{0,1,2} (C3-C5 -> P3-P5)
#       <- SoCo neck.lateral_convs.{1,2,3} / neck.fpn_convs.{1,2,3}
#   SoCo's P2 convs (index 0) and R-CNN head are left out;
#   neck.fpn_convs.{3,4} (P6 on P5, P7: same shape as the P5 output conv, which is why the shift
#   must be explicit) and the FCOS head start fresh.
# Produce the checkpoint with
#   python tools/model_converters/soco2mmdet.py SOCO.pth \
#       checkpoints/soco_r50-fpn_mmdet-fcos.pth --det fcos
# mmdet's FCOS base is caffe-style for Detectron's weights; SoCo's ResNet is pytorch-style and
# normalises RGB with the ImageNet mean/std, so both are switched here.  The paper gives no FCOS
# recipe beyond SyncBN fine-tuning of every layer: optimizer, schedule and GN head are mmdet's
# defaults (SGD lr 0.01, 2x lr / no decay on biases, grad clip 35, constant warm-up, 1x).
_base_ = 'mmdet::fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py'

load_from = 'checkpoints/soco_r50-fpn_mmdet-fcos.pth'  # converted with --det fcos

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
    neck=dict(start_level=1, norm_cfg=norm_cfg))  # as pretrained: SoCo's FPN has BN
