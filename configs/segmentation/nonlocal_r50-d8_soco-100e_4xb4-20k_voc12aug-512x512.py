# Non-local (embedded Gaussian) R50-D8 fine-tuned from SoCo (R50-FPN, 100 epochs)
# on PASCAL VOC 2012 aug, 512x512 crops, 20k iterations: mmseg's own recipe, one of the
# decoders the SoCo notes fine-tune every pretext task with.  Only the start differs: SoCo's
# ResNet-50 instead of mmseg's ImageNet ResNetV1c.  docs/segmentation.md lists every setting.
#
#   python tools/model_converters/soco2mmseg.py SOCO.pth checkpoints/soco_r50-fpn_mmseg.pth
_base_ = 'mmseg::nonlocal_net/nonlocal_r50-d8_4xb4-20k_voc12aug-512x512.py'

model = dict(
    pretrained=None,  # the recipe's 'open-mmlab://resnet50_v1c': nothing is downloaded
    backbone=dict(
        type='ResNet',  # plain 7x7 stem as SoCo pretrains it (ResNetV1c has a deep stem)
        frozen_stages=-1,  # every stage fine-tuned, with SyncBN as in pretraining (the recipe's)
        init_cfg=dict(
            type='Pretrained', checkpoint='checkpoints/soco_r50-fpn_mmseg.pth',
            prefix='backbone.')))
