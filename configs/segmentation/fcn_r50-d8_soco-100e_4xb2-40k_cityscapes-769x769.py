# FCN R50-D8 fine-tuned from SoCo (R50-FPN, 100 epochs) on Cityscapes, 769x769 crops, 40k
# iterations: mmselfsup's segmentation benchmark (configs/benchmarks/mmsegmentation/cityscapes),
# which is mmseg's recipe unchanged (sliding-window test, 769 windows, stride 513).  Only the
# start differs: SoCo's ResNet-50 instead of mmseg's ImageNet ResNetV1c.
#
#   python tools/model_converters/soco2mmseg.py SOCO.pth checkpoints/soco_r50-fpn_mmseg.pth
_base_ = 'mmseg::fcn/fcn_r50-d8_4xb2-40k_cityscapes-769x769.py'

model = dict(
    pretrained=None,  # the recipe's 'open-mmlab://resnet50_v1c': nothing is downloaded
    backbone=dict(
        type='ResNet',  # plain 7x7 stem as SoCo pretrains it (ResNetV1c has a deep stem)
        frozen_stages=-1,  # every stage fine-tuned, with SyncBN as in pretraining (the recipe's)
        init_cfg=dict(
            type='Pretrained', checkpoint='checkpoints/soco_r50-fpn_mmseg.pth',
            prefix='backbone.')))
