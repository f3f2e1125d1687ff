# SoCo R50-C4: RoIAlign on C4, res5 as the head, two views (V1, V2), 100 epochs on ImageNet-1k.
_base_ = [
    '../_base_/models/soco_r50_c4.py',
    '../_base_/datasets/imagenet_soco_2views.py',
    '../_base_/schedules/lars_coslr_100e.py',
    '../_base_/default_runtime.py',
]
