# SoCo, R50-FPN, 3 views, 100 epochs on ImageNet-1k, batch 2048 = 16 GPUs x 128.
_base_ = [
    '../_base_/models/soco_r50_fpn.py',
    '../_base_/datasets/imagenet_soco.py',
    '../_base_/schedules/lars_coslr_100e.py',
    '../_base_/default_runtime.py',
]
