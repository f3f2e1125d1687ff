# Mask R-CNN R50-FPN fine-tuned from SoCo (R50-FPN) on LVIS v1, 1x schedule.
#
# Same transfer and fine-tuning as the COCO R50-FPN config (backbone, FPN and the 4conv1fc BN box
# head from SoCo, SyncBN everywhere, weight decay 2.5e-5); data and schedule are mmdet's LVIS v1
# recipe: repeat-factor sampling (threshold 1e-3), multi-scale training, 1x (12 epochs), up to
# 300 detections per image.  The SoCo release's LVIS config is a Detectron2 1x (90k iterations,
# steps at 60k and 80k) with the same weight decay.  Evaluation needs the `lvis` package.
_base_ = 'mmdet::lvis/mask-rcnn_r50_fpn_sample1e-3_ms-1x_lvis-v1.py'

load_from = 'checkpoints/soco_r50-fpn_mmdet-rcnn.pth'  # converted SoCo checkpoint

norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    backbone=dict(
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,
        init_cfg=None),  # weights come from load_from: nothing is downloaded
    neck=dict(norm_cfg=norm_cfg),  # as pretrained: SoCo's FPN has BN
    roi_head=dict(
        bbox_head=dict(
            type='Shared4Conv1FCBBoxHead',
            conv_out_channels=256,
            fc_out_channels=1024,
            norm_cfg=norm_cfg),
        mask_head=dict(norm_cfg=norm_cfg)))

optim_wrapper = dict(optimizer=dict(weight_decay=2.5e-5))
