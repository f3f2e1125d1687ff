"""Precise BN before each evaluation, as Detectron2's ``TEST.PRECISE_BN`` for mmdet detectors.

mmcls and mmpretrain ship ``PreciseBNHook`` (from pycls; the host's is used, :mod:`mmsoco.host`).
Its schedule and averaging are what the SoCo release uses, but four details stop it from working
on an mmdet detector run:

1. It reads ``loader.batch_size``, which is ``None`` when a batch sampler builds the batches (every
   mmdet config uses ``AspectRatioBatchSampler``): the hook dies with a TypeError.
2. It calls ``model(**data)``, the ``'tensor'`` mode, which for a two-stage detector runs the box
   head on the RPN's test-time proposals.  Detectron2 runs the training forward (RoIs sampled as in
   training, ground truth added), so this hook calls the ``'loss'`` mode, and preprocesses the
   batch with ``training=True`` as the train step does.
3. It iterates the train loop's own dataloader.  With ``persistent_workers=True`` (mmdet's
   default) a new ``iter()`` *resets* the iterator the train loop is drawing from, so after each
   Precise BN an iteration-based run restarts its sampler's order.  Detectron2 builds a second
   train loader for Precise BN; so does this hook (once, kept between runs).
4. With an ``interval`` in iterations it can miss the last iteration; Detectron2 recomputes the
   statistics before every evaluation and at the end of training.  ``interval=None`` (the default
   here) follows the train loop's ``val_interval``/``val_begin`` and always runs at the end.

Everything else (BN layers in training mode only, momentum 1 so that each forward leaves the
batch's statistics, the mean of the per-batch means and variances, averaged over ranks) is mmcls's.
"""
import itertools
import logging
from typing import Iterator, Optional

import torch
from mmengine.dist import get_world_size
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop, Runner
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmsoco.host import PreciseBNHook, scaled_all_reduce
from mmsoco.registry import HOOKS


@torch.no_grad()
def update_bn_stats(model: nn.Module, batches: Iterator, num_iters: int, logger=None) -> int:
    """Set the running statistics of every training-mode BN layer to their mean over batches.

    Each batch goes through the data preprocessor and the training forward (``mode='loss'``) with
    the BN momentum at 1, so after it ``running_mean``/``running_var`` hold that batch's mean and
    (unbiased) variance; their averages over the batches, then over ranks, become the statistics.
    SyncBN layers see the statistics of the whole batch over all ranks.

    Args:
        model (nn.Module): The detector (a model wrapper is unwrapped), in training mode.
        batches (Iterator): Yields training data batches (dataloader output).
        num_iters (int): Number of batches to use.
        logger (optional): Where to log (see :func:`mmengine.logging.print_log`).

    Returns:
        int: Number of batches used (0 when the model has no BN layer in training mode).
    """
    if is_model_wrapper(model):
        model = model.module
    bn_layers = [m for m in model.modules() if m.training and isinstance(m, _BatchNorm)]
    if not bn_layers:
        print_log('Precise BN: no BN layer in training mode', logger, level=logging.WARNING)
        return 0
    means = [torch.zeros_like(bn.running_mean) for bn in bn_layers]
    variances = [torch.zeros_like(bn.running_var) for bn in bn_layers]
    momenta = [bn.momentum for bn in bn_layers]
    used = 0
    try:
        for bn in bn_layers:
            bn.momentum = 1.0  # the forward leaves this batch's statistics in the running stats
        for data in itertools.islice(batches, num_iters):
            data = model.data_preprocessor(data, True)
            model(**data, mode='loss')  # the training forward, as Detectron2
            for i, bn in enumerate(bn_layers):
                means[i] += bn.running_mean
                variances[i] += bn.running_var
            used += 1
    finally:
        for bn, momentum in zip(bn_layers, momenta):
            bn.momentum = momentum
    if used == 0:
        raise RuntimeError('Precise BN: the training dataloader gave no batch')
    world_size = get_world_size()
    means = scaled_all_reduce([m / used for m in means], world_size)
    variances = scaled_all_reduce([v / used for v in variances], world_size)
    for bn, mean, var in zip(bn_layers, means, variances):
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)
    print_log(f'Precise BN: statistics of {len(bn_layers)} BN layers recomputed over {used} '
              'training batches', logger)
    return used


@HOOKS.register_module()
class DetPreciseBNHook(PreciseBNHook):
    """Recompute BN statistics on training batches before each evaluation (mmdet detectors).

    mmcls's :class:`~mmcls.engine.hooks.PreciseBNHook` with the four fixes listed in this module's
    docstring.  Runs ``after_train_iter`` (``after_train_epoch`` for epoch-based loops) with
    priority ABOVE_NORMAL, so before the CheckpointHook saves and before the loop validates.

    Args:
        num_samples (int): Images per recomputation, over all ranks.  Defaults to 3200:
            Detectron2's ``TEST.PRECISE_BN.NUM_ITER`` (200) at 16 images per iteration.  Capped at
            one pass over the training set.
        interval (int, optional): Recompute every ``interval`` iterations (epochs for an
            epoch-based loop), as mmcls's hook.  Defaults to None: whenever the train loop is
            about to validate, and after the last iteration.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, num_samples: int = 3200, interval: Optional[int] = None) -> None:
        super().__init__(num_samples=num_samples, interval=interval or 1)
        self.follow_val = interval is None
        self.runs = 0  # how many recomputations this hook did
        self._loader = None
        self._iterator = None

    def _batches(self, runner: Runner) -> Iterator:
        """Training batches from a loader of our own (restarted when an epoch ends)."""
        if self._loader is None:
            cfg = runner.cfg.get('train_dataloader')
            if not isinstance(cfg, dict):
                raise TypeError('DetPreciseBNHook builds its own training dataloader from the '
                                f'config, but cfg.train_dataloader is {type(cfg).__name__}')
            self._loader = runner.build_dataloader(
                cfg, seed=runner.seed,
                diff_rank_seed=runner._randomness_cfg.get('diff_rank_seed', False))
            self._iterator = iter(self._loader)
        while True:
            try:
                yield next(self._iterator)
            except StopIteration:
                self._iterator = iter(self._loader)
                yield next(self._iterator)

    def _num_iters(self, runner: Runner) -> int:
        loader = runner.train_loop.dataloader
        batch_size = loader.batch_size or loader.batch_sampler.batch_size
        num_iters = self.num_samples // (batch_size * get_world_size())
        return max(1, min(num_iters, len(loader)))

    def _perform_precise_bn(self, runner: Runner) -> None:
        update_bn_stats(runner.model, self._batches(runner), self._num_iters(runner),
                        logger=runner.logger)
        self.runs += 1

    def _validates_next(self, runner: Runner, done: int) -> bool:
        """Whether the train loop validates once ``done`` iterations (epochs) are finished."""
        loop = runner.train_loop
        if runner.val_loop is None or done < loop.val_begin:
            return False
        return done % loop.val_interval == 0

    def after_train_iter(self, runner: Runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if not isinstance(runner.train_loop, IterBasedTrainLoop):
            return
        if self.follow_val:
            due = self.is_last_train_iter(runner) or self._validates_next(runner, runner.iter + 1)
        else:
            due = self.every_n_train_iters(runner, self.interval)
        if due:
            self._perform_precise_bn(runner)

    def after_train_epoch(self, runner: Runner) -> None:
        if not isinstance(runner.train_loop, EpochBasedTrainLoop):
            return
        if self.follow_val:
            due = runner.epoch + 1 == runner.max_epochs or \
                self._validates_next(runner, runner.epoch + 1)
        else:
            due = self.every_n_epochs(runner, self.interval)
        if due:
            self._perform_precise_bn(runner)
