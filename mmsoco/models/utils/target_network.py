"""The target network: an exponential moving average of the online network."""
import logging
from contextlib import contextmanager
from math import cos, pi
from typing import Iterator, Optional

import torch
import torch.nn as nn
from mmengine.logging import MessageHub, MMLogger
from mmsoco.host import CosineEMA
from mmsoco.registry import MODELS


class _DropMessage(logging.Filter):

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


@contextmanager
def _without_ema_momentum_warning() -> Iterator[None]:
    # mmengine's ExponentialMovingAverage warns for momentum > 0.5 because *its* momentum weighs
    # the online model; SoCo's (as BYOL's, and mmselfsup's CosineEMA's) weighs the target, where
    # 0.99 is right, so that one message is dropped.
    logger = MMLogger.get_current_instance()
    drop = _DropMessage('The value of momentum in EMA is usually a small number')
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


@MODELS.register_module()
class CosineMomentumEMA(CosineEMA):
    """The host's :class:`CosineEMA` (BYOL's momentum schedule), updated in one fused pass.

    After step ``k`` of ``K`` (the run's ``max_iters``) each target parameter becomes

    .. math::
        \\xi \\leftarrow m_k \\xi + (1 - m_k) \\theta, \\quad
        m_k = m_1 - (m_1 - m_0) (\\cos(\\pi k / K) + 1) / 2

    so ``m`` rises from ``momentum`` (:math:`m_0`, 0.99 in SoCo) to ``end_momentum``
    (:math:`m_1`, 1) along a cosine; ``momentum`` weighs the *target*, as in BYOL, MoCo and
    mmselfsup's CosineEMA.  The first update copies the online weights (the target was
    initialized on its own).  ``steps`` is :class:`~mmengine.model.BaseAveragedModel`'s buffer,
    saved in checkpoints, so a resumed run continues the schedule where it stopped.  The averaged
    copy never requires grad.

    What differs from :class:`CosineEMA`, and why:

    - ``momentum`` weighs the target on both hosts.  mmselfsup's CosineEMA means the same, but
      mmpretrain's follows mmengine (its ``momentum`` weighs the online network, 0.01 where
      mmselfsup says 0.99); the update below is computed here, so a SoCo config means the same
      on either host (:mod:`mmsoco.host`).
    - Only parameters are averaged, and buffers are left alone.  mmengine's
      ``update_parameters`` copies the online network's buffers into the target when
      ``update_buffers=False``; the original SoCo code never touches them, so the target's BN
      running statistics evolve through the target's own forward passes.  That is kept here.
    - One fused ``torch._foreach_lerp_`` over all parameters instead of a Python loop calling
      ``avg_func`` per tensor (measured faster, see ``tests/test_soco_model.py`` and the README):
      :math:`\\xi + (1 - m_k)(\\theta - \\xi)` is the same average.
    - ``max_iters`` may be given instead of read from the runner's :class:`MessageHub`.

    The update runs on the parameters as stored, fp32 under mixed precision (autocast never
    changes a parameter's dtype), with a Python-float momentum.

    Args:
        model (nn.Module): The online modules to average (deep-copied).
        momentum (float): :math:`m_0`. Defaults to 0.99.
        end_momentum (float): :math:`m_1`. Defaults to 1.
        max_iters (int, optional): :math:`K`. Defaults to None: read ``max_iters`` from the
            runner's :class:`MessageHub`.
        device (torch.device, optional): Where to keep the copy. Defaults to None.
    """

    def __init__(self,
                 model: nn.Module,
                 momentum: float = 0.99,
                 end_momentum: float = 1.,
                 max_iters: Optional[int] = None,
                 device: Optional[torch.device] = None) -> None:
        if not 0. < momentum <= end_momentum <= 1. or momentum >= 1.:
            raise ValueError('need 0 < momentum < 1 and momentum <= end_momentum <= 1, got '
                             f'momentum={momentum}, end_momentum={end_momentum}')
        with _without_ema_momentum_warning():
            super().__init__(model=model, momentum=momentum, end_momentum=end_momentum,
                             interval=1, device=device, update_buffers=False)
        self.max_iters = max_iters

    def momentum_at(self, step: int) -> float:
        """:math:`m_k` for ``step`` k."""
        max_iters = self.max_iters or MessageHub.get_current_instance().get_info('max_iters')
        if not max_iters:
            raise RuntimeError('CosineMomentumEMA needs the run length: pass max_iters or run '
                               "inside an mmengine Runner (which sets 'max_iters').")
        progress = min(step / float(max_iters), 1.)
        return self.end_momentum - (self.end_momentum - self.momentum) * (
            cos(pi * progress) + 1) / 2

    def avg_func(self, averaged_param: torch.Tensor, source_param: torch.Tensor,
                 steps: int) -> None:
        """One tensor's update, :math:`\\xi \\leftarrow m_k \\xi + (1 - m_k) \\theta`."""
        m = self.momentum_at(steps)
        averaged_param.mul_(m).add_(source_param, alpha=1 - m)

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> float:
        """Move the target's parameters towards ``model``'s and return the momentum used.

        Args:
            model (nn.Module): The online modules, same structure as the averaged copy.

        Returns:
            float: :math:`m_k` of this update (1.0 for the initial copy, which is logged as such).
        """
        online = [p.detach() for p in model.parameters()]
        target = list(self.module.parameters())
        step = int(self.steps)
        if step == 0:
            torch._foreach_copy_(target, online)
            m = 1.
        else:
            m = self.momentum_at(step)
            torch._foreach_lerp_(target, online, 1. - m)    # xi <- xi + (1 - m) (theta - xi)
        self.steps += 1
        return m
