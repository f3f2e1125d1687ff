# FCN fine-tuned from SoCo (R50-FPN, 100 epochs) on PASCAL VOC 2012 aug with MoCo's protocol
# (He et al., "Momentum Contrast for Unsupervised Visual Representation Learning", CVPR 2020,
# arXiv 1911.05722, appendix, semantic segmentation), the FCN head the SoCo notes fine-tune every
# pretext task with.  Each setting and its source: docs/segmentation.md.
#
#   python tools/model_converters/soco2mmseg.py SOCO.pth checkpoints/soco_r50-fpn_mmseg.pth
_base_ = 'mmseg::fcn/fcn_r50-d8_4xb4-20k_voc12aug-512x512.py'

crop_size = (513, 513)
model = dict(
    pretrained=None,  # the recipe's 'open-mmlab://resnet50_v1c': nothing is downloaded
    data_preprocessor=dict(size=crop_size),
    # ResNet-50 at output stride 16: conv5 at stride 1, every 3x3 conv of conv5 at dilation 2
    backbone=dict(
        type='ResNet',  # plain 7x7 stem as SoCo pretrains it (ResNetV1c has a deep stem)
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 2),
        contract_dilation=False,  # the first conv5 block dilated too, as the others
        frozen_stages=-1,  # every stage fine-tuned, with SyncBN as in pretraining (the recipe's)
        init_cfg=dict(
            type='Pretrained', checkpoint='checkpoints/soco_r50-fpn_mmseg.pth',
            prefix='backbone.')),
    # two 3x3 convs, 256 channels, BN + ReLU, dilation 6, then the 1x1 classifier
    decode_head=dict(
        channels=256, num_convs=2, kernel_size=3, dilation=6, concat_input=False,
        dropout_ratio=0.0),
    auxiliary_head=None,
    test_cfg=dict(mode='whole'))

# random scaling (x0.5-2.0), 513 crops, horizontal flips; test on the whole image
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),  # plain crop (no cat_max_ratio retries)
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size=crop_size),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
# the recipe's VOC 2012 train + SBD aug sets (10,582 images), written out: a list is replaced
# whole when configs merge, so both datasets are given again with the new pipeline
voc = dict(type='PascalVOCDataset', data_root='data/VOCdevkit/VOC2012', pipeline=train_pipeline)
train_dataloader = dict(  # 4 GPUs x 4 = 16 images per iteration
    dataset=dict(datasets=[
        dict(voc, data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
             ann_file='ImageSets/Segmentation/train.txt'),
        dict(voc, data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
             ann_file='ImageSets/Segmentation/aug.txt'),
    ]))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# SGD lr 0.003, weight decay 1e-4, 30k iterations, lr x0.1 at 70% and 90% (21k, 27k)
optim_wrapper = dict(optimizer=dict(lr=0.003, weight_decay=1e-4))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=30000, milestones=[21000, 27000],
         gamma=0.1)
]
train_cfg = dict(max_iters=30000, val_interval=3000)
default_hooks = dict(checkpoint=dict(interval=3000))
