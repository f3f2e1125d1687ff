# MMPretrain's runtime, plus what mmsoco's mmselfsup runtime (configs/_base_/default_runtime.py)
# adds: its logger interval, checkpoint interval and DataFallbackHook.  'mmpretrain' is imported
# before 'mmsoco', so mmsoco registers into mmpretrain's registries (mmsoco/registry.py).
_base_ = 'mmpretrain::_base_/default_runtime.py'

custom_imports = dict(imports=['mmpretrain', 'mmsoco'], allow_failed_imports=False)
default_scope = 'mmpretrain'

# logged each interval: every loss_v{a}_v{b}, momentum, lr, data_time, time; every epoch: the
# data pipeline's fallbacks summed over workers and ranks (DataFallbackHook)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3),
    data_fallbacks=dict(type='DataFallbackHook'))
