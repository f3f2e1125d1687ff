# Patch-level encoder-decoder MoCo pretraining for the segmentation transfer study
# (tools/transfer_study.py run --task seg --arms pledmoco ...): configs/dense's PLEDMoCo (MoCo v2's
# SGD, lr 0.03 x batch / 256, cosine) on the study's image list, iterations and batch, plain BN.
# The encoder-decoder is set by the study from the segmenter it fine-tunes (FCN R50-D8: its
# ResNet and FCNHead, no classifier; the cells at its stride 8), so the segmenter starts from the
# pretrained decoder.
_base_ = '../dense/pledmoco_resnet50-d16-fcn-d6_8xb32-coslr-200e_in1k.py'

data_root = 'work_dirs/transfer_study/data/pretrain/images/'  # set by the study
max_iters = 1500
warmup_iters = 150

train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='mmcls.CustomDataset',
        data_root=data_root,
        ann_file='../images.txt',  # '<path> 0' lines (see mmsoco/study/collection.py)
        data_prefix=''))

bn = dict(type='BN', requires_grad=True)
model = dict(backbone=dict(backbone=dict(norm_cfg=bn), decode_head=dict(norm_cfg=bn)))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='CosineAnnealingLR', T_max=max_iters - warmup_iters, by_epoch=False,
         begin=warmup_iters, end=max_iters),
]
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(by_epoch=False, interval=500, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
# lr 0.03 for 256 images (MoCo v2), scaled to the batch used
auto_scale_lr = dict(base_batch_size=256, enable=True)
randomness = dict(seed=0)
