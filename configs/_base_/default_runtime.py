_base_ = 'mmselfsup::selfsup/_base_/default_runtime.py'

custom_imports = dict(imports=['mmsoco'], allow_failed_imports=False)
default_scope = 'mmselfsup'

# logged each interval: every loss_v{a}_v{b}, momentum, lr, data_time, time; every epoch: the
# data pipeline's fallbacks summed over workers and ranks (DataFallbackHook)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3),
    data_fallbacks=dict(type='DataFallbackHook'))

env_cfg = dict(dist_cfg=dict(backend='nccl'))

# TensorBoard: add dict(type='TensorboardVisBackend') (or pass
# --cfg-options "visualizer.vis_backends=[dict(type='LocalVisBackend'),dict(type='TensorboardVisBackend')]")
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SelfSupVisualizer', vis_backends=vis_backends, name='visualizer')
