# Patch-level encoder-decoder MoCo (PLEDMoCo): PLMoCo (plmoco_r50_d16.py: geometric matching,
# queue of key cells, temperature 0.2, key momentum 0.999) on the cells of an encoder-decoder's
# output map: ResNet-50 at output stride 16 -> MoCoFCN (two 3x3 convs, 256 channels, dilation 6),
# the encoder-decoder of edmoco_r50-d16_fcn-d6.py, identical to the segmenter of
# configs/segmentation/fcn-d6_r50-d16_soco-100e_4xb4-30k_voc12aug-513x513.py.  DenseCL's neck
# projects every 256-channel cell to 128.
_base_ = './edmoco_r50-d16_fcn-d6.py'

model = dict(
    _delete_=True,
    type='PatchEDMoCo',
    queue_len=65536,
    feat_dim=128,
    momentum=0.999,
    out_stride=16,
    matching='geometric',
    cells_per_image=16,
    key_view_negatives=False,
    global_weight=0.,
    data_preprocessor={{_base_.model.data_preprocessor}},
    backbone={{_base_.model.backbone}},
    neck=dict(type='DenseCLNeck', in_channels=256, hid_channels=2048, out_channels=128,
              num_grid=None),  # in_channels: decode_head.channels
    head=dict(type='ContrastiveHead', loss=dict(type='mmcls.CrossEntropyLoss'), temperature=0.2))
