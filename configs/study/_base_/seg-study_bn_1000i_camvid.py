# What the segmentation transfer study's configs (tools/transfer_study.py run --task seg) share
# whatever the model: mmseg's VOC 2012 aug recipe (the data, runtime and 20k schedule bases of
# configs/segmentation/*_voc12aug-512x512.py), with a folder of images and masks in CamVid's
# layout, CamVid's classes and void, and a 1000-iteration schedule.  A study config adds its
# model (mmseg's model base, as configs/segmentation/ changes it) with plain BN (the study
# fine-tunes on one device) and no initial weights (the arm decides: load_from the converted
# checkpoint, or none).  The study sets the image
# folder, classes, ignore index, iterations, batch, image scale and crop per run.
_base_ = [
    'mmseg::_base_/datasets/pascal_voc12_aug.py', 'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_20k.py'
]

data_root = 'data/camvid'
classes = ('Sky', 'Building', 'Pole', 'Road', 'Pavement', 'Tree', 'SignSymbol', 'Fence', 'Car',
           'Pedestrian', 'Bicyclist')
ignore_index = 11  # CamVid's void
scale = (1440, 360)  # mmseg's VOC (2048, 512) for 360 px images: shorter side 360, x0.5-2.0
crop_size = (256, 256)
max_iters = 1000

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=scale, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75, ignore_index=ignore_index),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
# a folder of images and masks (uint8 class index per pixel, same file name): CamVid's layout
dataset = dict(type='BaseSegDataset', data_root=data_root, img_suffix='.png',
               seg_map_suffix='.png', metainfo=dict(classes=classes), ignore_index=ignore_index)
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(_delete_=True, **dataset, ann_file='train.txt',
                 data_prefix=dict(img_path='train', seg_map_path='trainannot'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    dataset=dict(_delete_=True, **dataset, ann_file='val.txt',
                 data_prefix=dict(img_path='val', seg_map_path='valannot'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'], ignore_index=ignore_index)
test_evaluator = val_evaluator

# mmseg's schedule (SGD lr 0.01 for 16 images, poly decay), shortened; lr scaled to the batch
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=max_iters, by_epoch=False)
]
auto_scale_lr = dict(enable=True, base_batch_size=16)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1))

