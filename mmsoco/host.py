"""The pieces mmsoco takes from its host library, under one name whichever host runs.

mmsoco's own modules import these names from here, never from mmselfsup or mmpretrain, so that a
process on one host never imports the other (see :mod:`mmsoco.registry` for how the host is
chosen).  Each name and what it is on each host:

- ``DataSample``: ``mmselfsup.structures.SelfSupDataSample`` /
  ``mmpretrain.structures.DataSample``;
- ``BaseModel``: ``mmselfsup.models.algorithms.base.BaseModel`` /
  ``mmpretrain.models.selfsup.BaseSelfSupervisor``;
- ``MoCo``, ``BYOL``: ``mmselfsup.models.algorithms`` / ``mmpretrain.models.selfsup``;
- ``CosineEMA``, ``SelfSupDataPreprocessor``: ``{mmselfsup,mmpretrain}.models.utils``;
- ``LARS``: ``{mmselfsup,mmpretrain}.engine.optimizers``;
- ``batch_shuffle_ddp``, ``batch_unshuffle_ddp``: ``mmselfsup.utils`` /
  ``mmpretrain.models.utils`` (the same code);
- ``STEM_OUTPUT_RESNETS``: the ResNet classes that count the stem as output 0: mmselfsup's
  ``ResNet`` / none (mmpretrain's counts the stages from 0, as mmdet's and mmseg's);
- ``PreciseBNHook``, ``scaled_all_reduce``: ``mmcls.engine.hooks.precise_bn_hook`` (mmselfsup's
  classification library) / ``mmpretrain.engine.hooks.precise_bn_hook``.

Where the two differ, and what mmsoco does about it:

- ``CosineEMA``'s ``momentum`` weighs the target in mmselfsup (0.99) but the online network in
  mmpretrain (0.01, mmengine's convention).  mmsoco's :class:`CosineMomentumEMA` computes its
  update itself, so SoCo's ``base_momentum`` means the target's weight (0.99) on both hosts.
  mmpretrain's ``MoCo`` takes the same flipped ``momentum`` (0.001 for mmselfsup's 0.999).
- mmselfsup's data preprocessor returns ``(inputs, data_samples)``, mmpretrain's
  ``dict(inputs=..., data_samples=...)``; mmengine's ``BaseModel`` takes either, and the
  arithmetic (channel flip, float, ``(x - mean) / std``) is the same.
- LARS and the precise-BN statistics are the same code on both (mmpretrain copied them).
- The backbone named ``ResNet`` is each host's own: mmselfsup counts the stem as output 0
  (``out_indices=(1, 2, 3, 4)`` for C2-C5), mmpretrain does not (``(0, 1, 2, 3)``); the parameter
  names, and so the checkpoints, are the same.
"""
from .registry import HOST

if HOST == 'mmpretrain':
    from mmpretrain.engine.hooks import PreciseBNHook
    from mmpretrain.engine.hooks.precise_bn_hook import scaled_all_reduce
    from mmpretrain.engine.optimizers import LARS
    from mmpretrain.models.selfsup import BYOL, MoCo
    from mmpretrain.models.selfsup import BaseSelfSupervisor as BaseModel
    from mmpretrain.models.utils import (CosineEMA, SelfSupDataPreprocessor, batch_shuffle_ddp,
                                         batch_unshuffle_ddp)
    from mmpretrain.structures import DataSample
    STEM_OUTPUT_RESNETS = ()
else:
    from mmcls.engine.hooks import PreciseBNHook
    from mmcls.engine.hooks.precise_bn_hook import scaled_all_reduce
    from mmselfsup.engine.optimizers import LARS
    from mmselfsup.models.algorithms import BYOL, MoCo
    from mmselfsup.models.algorithms.base import BaseModel
    from mmselfsup.models.backbones import ResNet as _SelfSupResNet
    from mmselfsup.models.utils import CosineEMA, SelfSupDataPreprocessor
    from mmselfsup.structures import SelfSupDataSample as DataSample
    from mmselfsup.utils import batch_shuffle_ddp, batch_unshuffle_ddp
    STEM_OUTPUT_RESNETS = (_SelfSupResNet, )

__all__ = ['HOST', 'BaseModel', 'BYOL', 'CosineEMA', 'DataSample', 'LARS', 'MoCo', 'PreciseBNHook',
           'STEM_OUTPUT_RESNETS', 'SelfSupDataPreprocessor', 'batch_shuffle_ddp',
           'batch_unshuffle_ddp', 'scaled_all_reduce']
