"""Totals of the data pipeline's fallbacks over all dataloader workers and ranks."""
import logging
from collections import Counter
from typing import Dict, Optional, Sequence

from mmengine.dist import all_gather_object, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmsoco.registry import HOOKS


@HOOKS.register_module()
class DataFallbackHook(Hook):
    """Log, every epoch, how many fallbacks the SoCo pipeline took in the whole job.

    Each transform with a :class:`~mmsoco.datasets.FallbackCounter` hands its counts to the
    samples it returns (``fallbacks`` in the data sample's metainfo; see
    :meth:`FallbackCounter.attach`).  This hook sums them over the batches of the epoch, gathers
    the sums of all ranks, and logs one line on every rank (epochs count from 1, as in mmengine's
    log), e.g.::

        SoCo data fallbacks, epoch 3 (all workers and ranks, 5120 samples): unreadable=2, ...

    The running totals of the whole run are in ``self.totals``.  An unreadable image's count
    travels with the sample that the dataset draws in its place.

    Args:
        log_level (str): Level of the line when some fallback was taken. Defaults to 'WARNING';
            an epoch without fallbacks is logged at INFO.
    """

    priority = 'LOW'

    def __init__(self, log_level: str = 'WARNING') -> None:
        self.log_level = logging.getLevelName(log_level)
        self.epoch_counts: Counter = Counter()
        self.epoch_samples = 0
        self.totals: Counter = Counter()

    def before_train_epoch(self, runner) -> None:
        self.epoch_counts, self.epoch_samples = Counter(), 0

    def after_train_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        samples: Sequence = (data_batch or {}).get('data_samples') or []
        self.epoch_samples += len(samples)
        for sample in samples:
            counts: Dict[str, int] = sample.metainfo.get('fallbacks') or {}
            self.epoch_counts.update(counts)

    def after_train_epoch(self, runner) -> None:
        counts, samples = self.epoch_counts, self.epoch_samples
        if get_world_size() > 1:
            gathered = all_gather_object((dict(counts), samples))
            counts = sum((Counter(c) for c, _ in gathered), Counter())
            samples = sum(n for _, n in gathered)
        self.totals.update(counts)
        listed = ', '.join(f'{k}={v}' for k, v in sorted(counts.items())) or 'none'
        print_log(f'SoCo data fallbacks, epoch {runner.epoch + 1} (all workers and ranks, '
                  f'{samples} samples): {listed}', logger='current',
                  level=self.log_level if counts else logging.INFO)
