# Semantic FPN R50 fine-tuned from SoCo (R50-FPN, 100 epochs) on PASCAL VOC 2012 aug, 512x512
# crops, 20k iterations (the data and schedule of mmseg's 20k VOC recipes, mmseg's Semantic FPN
# model).  SoCo pretrains the FPN as well as the backbone; this config starts from both, the
# architecture alignment of the SoCo paper applied to segmentation.  Only the FPN head
# (decode_head) starts fresh.
#
#   python tools/model_converters/soco2mmseg.py SOCO.pth checkpoints/soco_r50-fpn_mmseg-fpn.pth \
#       --with-neck
_base_ = [
    'mmseg::_base_/models/fpn_r50.py', 'mmseg::_base_/datasets/pascal_voc12_aug.py',
    'mmseg::_base_/default_runtime.py', 'mmseg::_base_/schedules/schedule_20k.py'
]

checkpoint = 'checkpoints/soco_r50-fpn_mmseg-fpn.pth'  # backbone.* and neck.* from SoCo
crop_size = (512, 512)
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    pretrained=None,  # the recipe's 'open-mmlab://resnet50_v1c': nothing is downloaded
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        type='ResNet',  # plain 7x7 stem as SoCo pretrains it (ResNetV1c has a deep stem)
        frozen_stages=-1,  # every stage fine-tuned, with SyncBN as in pretraining (the recipe's)
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint, prefix='backbone.')),
    # SoCo's FPN P2-P5 (C2-C5, 256 channels) as pretrained: convs + BN (SyncBN), no conv bias.
    # soco2mmseg.py --config and tests/test_segmentation_configs.py check they agree.
    neck=dict(
        norm_cfg=norm_cfg,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint, prefix='neck.')),
    decode_head=dict(num_classes=21))
