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
# The SoCo release has no RetinaNet config.  Fine-tuning as the release's Mask R-CNN does: SyncBN
# everywhere, every stage trained, Detectron2's data and 1x schedule (90k iterations,
# multi-scale 640..800, ./_base_/soco-d2_ms-90k_coco.py), Precise BN; the optimizer is
# Detectron2's and mmdet's for RetinaNet (SGD lr 0.01 for 16 images, weight decay 1e-4).  The
# head keeps mmdet's default (no norm layers).
# Short form (mmdet single-scale training):
#   --cfg-options "train_dataloader.dataset.pipeline.2.scales=[(1333,800)]"
_base_ = ['mmdet::_base_/models/retinanet_r50_fpn.py', './_base_/soco-d2_ms-90k_coco.py']

load_from = 'checkpoints/soco_r50-fpn_mmdet-retinanet.pth'  # converted with --det retinanet

norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    backbone=dict(
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,
        init_cfg=None),  # weights come from load_from: nothing is downloaded
    neck=dict(start_level=1, norm_cfg=norm_cfg))  # as pretrained: SoCo's FPN has BN

optim_wrapper = dict(optimizer=dict(lr=0.01))
