# LARS, lr 1.0 x batch / 256 (auto-scaled from base batch 256), weight decay 1e-5,
# 10 warm-up epochs then cosine.  BN parameters and biases skip weight decay and LARS adaptation.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='LARS', lr=1.0, momentum=0.9, weight_decay=1e-5),
    paramwise_cfg=dict(
        custom_keys={
            'bn': dict(decay_mult=0, lars_exclude=True),
            'bias': dict(decay_mult=0, lars_exclude=True),
            'downsample.1': dict(decay_mult=0, lars_exclude=True),  # BN of ResNet shortcuts
        }))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=90, by_epoch=True, begin=10, end=100,
         convert_to_iter_based=True),
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100)

# lr = 1.0 x (total batch) / 256
auto_scale_lr = dict(base_batch_size=256, enable=True)
