# SoCo R50-FPN: ResNet-50 -> FPN P2-P5 -> scale-aware RoIAlign 7x7 -> 4conv1fc R-CNN head (BN)
# -> projector -> predictor; target network = momentum average of all but the predictor.
model = dict(
    type='SoCo',
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        type='ResNet',
        depth=50,
        out_indices=(1, 2, 3, 4),  # mmselfsup counts the stem as 0: C2..C5
        norm_cfg=dict(type='SyncBN'),
        zero_init_residual=False),
    neck=dict(
        type='mmdet.FPN',
        in_channels=[256, 512, 1024, 2048],
        out_channels=256,
        num_outs=4,  # P2-P5, no P6
        norm_cfg=dict(type='SyncBN')),  # as the SoCo release; fine-tuned with SyncBN
    roi_extractor=dict(
        type='ScaleAwareRoIExtractor',
        roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0, aligned=True),
        out_channels=256,
        featmap_strides=[4, 8, 16, 32],
        # box side sqrt(wh) in view pixels, upper bounds inclusive as the original code:
        # <= 48 -> P2, <= 96 -> P3, <= 192 -> P4, larger -> P5
        level_bounds=(48, 96, 192)),
    head=dict(type='RCNNHead', in_channels=256, roi_feat_size=7, num_convs=4,
              conv_out_channels=256, fc_out_channels=1024, norm_cfg=dict(type='SyncBN')),
    projector=dict(type='ProjectionMLP', in_channels=1024, hid_channels=4096, out_channels=256,
                   norm_cfg=dict(type='SyncBN')),
    predictor=dict(type='ProjectionMLP', in_channels=256, hid_channels=4096, out_channels=256,
                   norm_cfg=dict(type='SyncBN')),
    view_pairs=[(0, 1), (0, 2)],  # V1<->V2, V1<->V3, each in both directions
    base_momentum=0.99,
    end_momentum=1.0,
    # 'single': each box pooled once from its level, one BN batch per view (fast path);
    # 'original': per-level BN batches and V1 embedded once per pair, as the original code
    roi_pooling='single',
    loss_reduction='image')  # per image over its boxes, then over images (the original)
