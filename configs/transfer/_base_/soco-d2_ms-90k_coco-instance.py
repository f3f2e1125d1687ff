# The SoCo release's Detectron2 fine-tuning protocol on COCO, for every detector (data, solver,
# Precise BN); the detector configs add the model.  docs/transfer.md compares it point by point.
#
# Data and schedule: mmdet's Detectron2-aligned 90k recipe (`common/ms-poly-90k_coco-instance`):
# 16 images per iteration (2 x 8 GPUs), multi-scale training with the shorter side drawn from
# (640, 672, 704, 736, 768, 800), test at 800, Pillow decoding, SGD lr 0.02, linear warm-up over
# 1000 iterations from 0.001 (Detectron2's WARMUP_ITERS / WARMUP_FACTOR defaults), x0.1 at 60k
# and 80k, 90k iterations.
_base_ = 'mmdet::common/ms-poly-90k_coco-instance.py'
custom_imports = dict(imports=['mmsoco'], allow_failed_imports=False)

# The release evaluates once, after the last iteration (Detectron2's TEST.EVAL_PERIOD 0); for
# periodic evaluation set train_cfg.val_interval (Precise BN follows it).
train_cfg = dict(val_interval=90000)

# SGD as Detectron2 (before v0.6) builds it for the release: weight decay 2.5e-5 (SoCo_*.yaml),
# none on norm layers (WEIGHT_DECAY_NORM 0.0), and 1e-4 on the other biases (WEIGHT_DECAY_BIAS
# defaults to the default WEIGHT_DECAY, 1e-4, which the release's yaml files leave unchanged).
optim_wrapper = dict(
    optimizer=dict(weight_decay=2.5e-5),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=4.0))

# Precise BN (TEST.PRECISE_BN): BN statistics recomputed over 200 batches of 16 training images
# (Detectron2's NUM_ITER 200) before each evaluation and at the end of training.
custom_hooks = [dict(type='mmselfsup.DetPreciseBNHook', num_samples=3200)]
