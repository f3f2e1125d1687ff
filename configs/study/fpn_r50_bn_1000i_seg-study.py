# Semantic FPN R50 for the segmentation transfer study (tools/transfer_study.py run --task seg
# --seg-model fpn), the same for every arm: the model of
# configs/segmentation/fpn_r50_soco-100e_4xb4-20k_voc12aug-512x512.py with plain BN and no
# initial weights, on the study's data and schedule (./_base_/seg-study_bn_1000i_camvid.py).  The
# soco arm starts the backbone and the FPN from SoCo (load_from), the byol arm the backbone only;
# the FPN keeps mmseg's Xavier init otherwise.
_base_ = ['mmseg::_base_/models/fpn_r50.py', './_base_/seg-study_bn_1000i_camvid.py']

norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    pretrained=None,  # the recipe's 'open-mmlab://resnet50_v1c': nothing is downloaded
    data_preprocessor=dict(size=_base_.crop_size, seg_pad_val=_base_.ignore_index),
    backbone=dict(type='ResNet', frozen_stages=-1, norm_cfg=norm_cfg, init_cfg=None),
    # SoCo's FPN P2-P5 as pretrained: convs + BN, no conv bias (as configs/segmentation/)
    neck=dict(norm_cfg=norm_cfg),
    decode_head=dict(norm_cfg=norm_cfg, num_classes=len(_base_.classes),
                     ignore_index=_base_.ignore_index))
