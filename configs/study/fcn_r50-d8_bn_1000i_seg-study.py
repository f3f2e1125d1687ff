# FCN R50-D8 for the segmentation transfer study (tools/transfer_study.py run --task seg), the
# same for every arm (soco, byol, scratch): the model of
# configs/segmentation/fcn_r50-d8_soco-100e_4xb4-20k_voc12aug-512x512.py (mmselfsup's VOC
# benchmark: mmseg's FCN with SoCo's plain-stem ResNet, every stage fine-tuned) with plain BN and
# no initial weights, on the study's data and schedule (./_base_/seg-study_bn_1000i_camvid.py).
_base_ = ['mmseg::_base_/models/fcn_r50-d8.py', './_base_/seg-study_bn_1000i_camvid.py']

norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    pretrained=None,  # the recipe's 'open-mmlab://resnet50_v1c': nothing is downloaded
    data_preprocessor=dict(size=_base_.crop_size, seg_pad_val=_base_.ignore_index),
    backbone=dict(type='ResNet', frozen_stages=-1, norm_cfg=norm_cfg, init_cfg=None),
    decode_head=dict(norm_cfg=norm_cfg, num_classes=len(_base_.classes),
                     ignore_index=_base_.ignore_index),
    auxiliary_head=dict(norm_cfg=norm_cfg, num_classes=len(_base_.classes),
                        ignore_index=_base_.ignore_index))
