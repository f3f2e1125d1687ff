# RetinaNet R50-FPN fine-tuned from SoCo (R50-FPN, 100 epochs) on COCO, 1x schedule.
#
# RetinaNet takes SoCo's backbone and FPN.  Its FPN has start_level=1 and P3-P7, SoCo's has
# start_level=0 and P2-P5, so the converter shifts the FPN indices (--det retinanet):
#   neck.lateral_convs.{0,1,2} / neck.fpn_convs.{0,1,2} (C3-C5 -> P3-P5)
#       <- SoCo neck.lateral_convs.{1,2,3} / neck.fpn_convs.{1,2,3}
#   SoCo's P2 convs (index 0) and R-CNN head are left out;
#   neck.fpn_convs.{3,4} (P6 on C5, P7) and the RetinaNet head start fresh.
# Produce the checkpoint with
#   python tools/model_converters/soco2mmdet.py SOCO.pth \
#       checkpoints/soco_r50-fpn_mmdet-retinanet.pth --det retinanet
# The paper gives no RetinaNet fine-tuning recipe beyond SyncBN fine-tuning of every layer, so
# optimizer and schedule are mmdet's defaults (SGD lr 0.01 for 16 images, wd 1e-4, 1x);
# the head keeps mmdet's default (no norm layers).
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'

load_from = 'checkpoints/soco_r50-fpn_mmdet-retinanet.pth'  # converted with --det retinanet

norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    backbone=dict(
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,
        init_cfg=None),  # weights come from load_from: nothing is downloaded
    neck=dict(start_level=1, norm_cfg=norm_cfg))  # as pretrained: SoCo's FPN has BN
