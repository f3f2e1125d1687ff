# Patch-level rotation (PLR): ResNet-50 at output stride 16 (conv5 at stride 1, dilation 2) ->
# MoCoFCN (two 3x3 convs, 256 channels, BN + ReLU, dilation 6) -> 4 angle scores per cell.
# backbone and decode_head are mmseg configs, identical to the segmenter of
# configs/segmentation/fcn-d6_r50-d16_soco-100e_4xb4-30k_voc12aug-513x513.py but for num_classes.
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    type='PatchRotation',
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        type='PretextEncoderDecoder',
        backbone=dict(
            type='ResNet',  # mmseg's, plain 7x7 stem
            depth=50,
            num_stages=4,
            out_indices=(0, 1, 2, 3),
            strides=(1, 2, 2, 1),
            dilations=(1, 1, 1, 2),
            contract_dilation=False,
            norm_cfg=norm_cfg,
            norm_eval=False,
            style='pytorch'),
        decode_head=dict(
            type='FCNHead',
            in_channels=2048,
            in_index=3,
            channels=256,
            num_convs=2,
            kernel_size=3,
            dilation=6,
            concat_input=False,
            dropout_ratio=0.0,
            num_classes=4,  # rotation by 0, 90, 180, 270 degrees
            norm_cfg=norm_cfg,
            align_corners=False)))
