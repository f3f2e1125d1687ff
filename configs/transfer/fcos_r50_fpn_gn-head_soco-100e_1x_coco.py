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
# mmdet's FCOS model is caffe-style for Detectron's weights; SoCo's ResNet is pytorch-style and
# normalises RGB with the ImageNet mean/std, so both are switched here.  The SoCo release has no
# FCOS config.  Fine-tuning as the release's Mask R-CNN does: SyncBN in backbone and FPN, every
# stage trained, Detectron2's data and 1x schedule (90k iterations, multi-scale 640..800, linear
# warm-up over 1000 iterations, as ./_base_/soco-d2_ms-90k_coco.py, restated here because mmdet
# keeps the FCOS model inside its config), Precise BN; optimizer and GN head are mmdet's FCOS
# recipe (SGD lr 0.01, 2x lr / no decay on biases, gradient clipping at norm 35).
# Short form (mmdet single-scale training):
#   --cfg-options "train_dataloader.dataset.pipeline.2.scales=[(1333,800)]"
_base_ = 'mmdet::fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py'
custom_imports = dict(imports=['mmsoco'], allow_failed_imports=False)

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

# Data and schedule of ./_base_/soco-d2_ms-90k_coco.py (mmdet's common/ms-90k_coco).
backend = 'pillow'
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None, imdecode_backend=backend),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='RandomChoiceResize',
        scales=[(1333, 640), (1333, 672), (1333, 704), (1333, 736), (1333, 768), (1333, 800)],
        keep_ratio=True,
        backend=backend),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None, imdecode_backend=backend),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True, backend=backend),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    sampler=dict(type='InfiniteSampler', shuffle=True), dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

max_iters = 90000
train_cfg = dict(
    _delete_=True, type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iters,
        by_epoch=False,
        milestones=[60000, 80000],
        gamma=0.1)
]
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=10000))
log_processor = dict(by_epoch=False)
custom_hooks = [dict(type='mmselfsup.DetPreciseBNHook', num_samples=3200)]
