# Encoder-decoder MoCo (EDMoCo): mmselfsup's MoCo v2 (queue 65536, temperature 0.2, key momentum
# 0.999, its 2-layer projector MoCoV2Neck: fc-ReLU-fc to 128) whose encoder is ResNet-50 at output stride 16 -> MoCoFCN (two 3x3
# convs, 256 channels, dilation 6), the decoder's 256-channel map average-pooled to one vector.
# backbone and decode_head are mmseg configs, identical to the segmenter of
# configs/segmentation/fcn-d6_r50-d16_soco-100e_4xb4-30k_voc12aug-513x513.py (EDMoCo drops the
# classifier, so num_classes is unused).
_base_ = './plr_r50-d16_fcn-d6.py'

model = dict(
    _delete_=True,
    type='EDMoCo',
    queue_len=65536,
    feat_dim=128,
    momentum=0.999,
    data_preprocessor={{_base_.model.data_preprocessor}},
    backbone={{_base_.model.backbone}},
    # MoCo v2's projector as mmselfsup configures it (NonLinearNeck would add a BN after the first
    # fc, which MoCo v2 does not have); it average-pools the decoder's map first
    neck=dict(
        type='MoCoV2Neck',
        in_channels=256,  # decode_head.channels
        hid_channels=2048,
        out_channels=128,
        with_avg_pool=True),
    head=dict(type='ContrastiveHead', loss=dict(type='mmcls.CrossEntropyLoss'), temperature=0.2))
