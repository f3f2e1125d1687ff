# SoCo, R50-FPN, 3 views, 100 epochs on ImageNet-1k, batch 2048 = 16 GPUs x 128, on MMPretrain:
# the model, data and schedule of configs/soco/soco_resnet50-fpn_16xb128-coslr-100e_in1k.py with
# mmpretrain's runtime and pieces (DataSample, SelfSupDataPreprocessor, LARS, CosineEMA, ResNet).
# mmpretrain's own LARS schedule (imagenet_lars_coslr_200e.py) is BYOL's: another lr, weight
# decay, length and cosine, and no LARS exclusions, so the schedule is mmsoco's.
_base_ = [
    '../_base_/models/soco_r50_fpn.py',
    '../_base_/datasets/imagenet_soco.py',
    '../_base_/schedules/lars_coslr_100e.py',
    './_base_/default_runtime.py',
]

# mmpretrain's ResNet does not count the stem as an output (mmselfsup's does): C2-C5
model = dict(backbone=dict(out_indices=(0, 1, 2, 3)))
