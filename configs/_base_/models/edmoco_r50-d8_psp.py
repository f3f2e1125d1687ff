# EDMoCo with PSPNet's decoder: ResNet-50 at output stride 8 -> pyramid pooling 1/2/3/6, the
# 512-channel map average-pooled, then MoCo v2.  Same encoder-decoder as plr_r50-d8_psp.py.
_base_ = './edmoco_r50-d16_fcn-d6.py'

model = dict(
    backbone=dict(
        backbone=dict(strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4), contract_dilation=True),
        decode_head=dict(
            _delete_=True,
            type='PSPHead',
            in_channels=2048,
            in_index=3,
            channels=512,
            pool_scales=(1, 2, 3, 6),
            dropout_ratio=0.1,
            num_classes=4,
            norm_cfg={{_base_.norm_cfg}},
            align_corners=False)),
    neck=dict(in_channels=512))  # decode_head.channels
