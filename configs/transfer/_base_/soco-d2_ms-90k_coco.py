# The data, schedule and Precise BN of the SoCo release's Detectron2 protocol for box-only
# detectors on COCO (RetinaNet, FCOS): mmdet's Detectron2-aligned 90k recipe
# (`common/ms-90k_coco`: 16 images per iteration, multi-scale training with the shorter side from
# (640, 672, 704, 736, 768, 800), test at 800, linear warm-up over 1000 iterations from 0.001,
# x0.1 at 60k and 80k, 90k iterations).  The release has no config for these detectors, so the
# optimizer (lr, weight decay) is left to each detector config.
_base_ = 'mmdet::common/ms-90k_coco.py'
custom_imports = dict(imports=['mmsoco'], allow_failed_imports=False)

# Evaluated once, after the last iteration (Detectron2's TEST.EVAL_PERIOD 0); for periodic
# evaluation set train_cfg.val_interval (Precise BN follows it).
train_cfg = dict(val_interval=90000)

# Precise BN (TEST.PRECISE_BN): BN statistics recomputed over 200 batches of 16 training images
# before each evaluation and at the end of training.
custom_hooks = [dict(type='mmselfsup.DetPreciseBNHook', num_samples=3200)]
