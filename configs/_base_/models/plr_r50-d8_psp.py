# PLR with PSPNet's decoder: ResNet-50 at output stride 8 (conv4 dilation 2, conv5 dilation 4) ->
# pyramid pooling 1/2/3/6, 512 channels -> 4 angle scores per cell.  Identical to the segmenter of
# configs/segmentation/pspnet_r50-d8_soco-100e_4xb4-20k_voc12aug-512x512.py but for num_classes
# and its auxiliary head (not pretrained).
_base_ = './plr_r50-d16_fcn-d6.py'

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
            align_corners=False)))
