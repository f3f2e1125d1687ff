# Faster R-CNN R50-FPN for the transfer study (tools/transfer_study.py), the same for every arm
# (soco, byol, scratch).  mmdet's faster-rcnn_r50_fpn_1x_coco.py with SoCo's fine-tuning
# architecture: BN trained in the backbone (all stages), FPN and box head, and the 4conv1fc box
# head with BN that SoCo pretrains, so SoCo's FPN and head weights load (soco2mmdet).  Plain BN,
# not SyncBN: the study fine-tunes on one device.  Nothing is downloaded: the arm decides the
# initial weights (SoCo: load_from the converted checkpoint; BYOL: backbone init_cfg; scratch:
# none).  The study sets the COCO jsons, classes, iterations, batch and image scale per run.
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'

norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    backbone=dict(frozen_stages=-1, norm_cfg=norm_cfg, norm_eval=False, init_cfg=None),
    neck=dict(norm_cfg=norm_cfg),
    roi_head=dict(
        bbox_head=dict(
            type='Shared4Conv1FCBBoxHead',
            conv_out_channels=256,
            fc_out_channels=1024,
            norm_cfg=norm_cfg,
            num_classes=1)))

# the detection set: COCO jsons for train and val, images under one folder (set by the study)
img_root = 'data/raccoon/images/'
train_ann, val_ann = 'data/raccoon/train.json', 'data/raccoon/val.json'
classes = ('raccoon', )
scale = (853, 512)  # mmdet's (1333, 800) scaled to a 512 px shorter side: small photos
max_iters = 1000
warmup_iters = 100

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(data_root='', ann_file=train_ann, data_prefix=dict(img=img_root),
                 metainfo=dict(classes=classes), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    dataset=dict(data_root='', ann_file=val_ann, data_prefix=dict(img=img_root),
                 metainfo=dict(classes=classes), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric', ann_file=val_ann, metric='bbox')
test_evaluator = val_evaluator

# 1x-like: linear warm-up, lr x0.1 at 2/3 and 8/9 of the iterations (mmdet's 8 and 11 of 12)
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='MultiStepLR', begin=0, end=max_iters, by_epoch=False,
         milestones=[max_iters * 2 // 3, max_iters * 8 // 9], gamma=0.1)
]
# lr 0.02 for 16 images (mmdet), scaled to the batch used
auto_scale_lr = dict(enable=True, base_batch_size=16)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
