"""Counters for the fallbacks the SoCo data pipeline takes.

A fallback is a sample the recipe cannot build as written (an image without proposals, a crop that
keeps no proposal, boxes shrunk below a pixel).  Each is handled, counted and logged, never silent.
Counts also travel with the samples (``results['fallbacks']``, packed into the data sample's
metainfo), so that :class:`DataFallbackHook` can sum them over dataloader workers and ranks.
"""
import logging
import os
from collections import OrderedDict
from typing import Dict, Iterable, Optional

from mmengine.logging import print_log


class FallbackCounter:
    """Per-process counts of the fallbacks one transform takes.

    The first occurrence of each kind is logged as a warning with its explanation; after that a
    one-line summary is logged every ``log_interval`` samples while any count is non-zero.
    Dataloader workers each keep their own counter (they are separate processes), so every worker
    logs its own totals, tagged with its process id.  Fallbacks not yet handed to a sample are
    ``pending``: :meth:`attach` adds them to the next sample the transform returns, from where
    :class:`mmsoco.engine.DataFallbackHook` sums them over workers and ranks.

    Args:
        owner (str): Name of the transform, used in the log lines.
        kinds (dict[str, str]): Fallback name -> one-line explanation.
        log_interval (int): Samples between two summaries; 0 disables the summaries.
        max_logged_paths (int): Per kind, how many occurrences :meth:`add` logs with their
            path (and reason) before it only counts them, so that a whole collection taking
            the same fallback does not flood the log. Defaults to 20.
    """

    def __init__(self, owner: str, kinds: Dict[str, str], log_interval: int = 1000,
                 max_logged_paths: int = 20) -> None:
        self.owner = owner
        self.max_logged_paths = max_logged_paths
        self.logged_paths: Dict[str, int] = {}
        self.kinds = OrderedDict(kinds)
        self.counts = OrderedDict((name, 0) for name in kinds)
        self.pending: Dict[str, int] = {}
        self.num_samples = 0
        self.log_interval = log_interval

    def __getitem__(self, name: str) -> int:
        return self.counts[name]

    def add(self, name: str, n: int = 1, path: Optional[str] = None,
            reason: str = '') -> None:
        """Count ``n`` occurrences of the fallback ``name``.

        With ``path``, the occurrence is also logged as a warning naming the file and the
        ``reason``, for the first ``max_logged_paths`` occurrences of each kind.
        """
        if n <= 0:
            return
        if self.counts[name] == 0:
            print_log(f'{self.owner}: fallback "{name}" taken ({self.kinds[name]}); counted, '
                      f'summaries every {self.log_interval} samples.', logger='current',
                      level=logging.WARNING)
        self.counts[name] += n
        self.pending[name] = self.pending.get(name, 0) + n
        if path is not None:
            logged = self.logged_paths.get(name, 0)
            if logged < self.max_logged_paths:
                last = (f'; further "{name}" paths are counted, not logged'
                        if logged + 1 == self.max_logged_paths else '')
                print_log(f"{self.owner}: {name} '{path}'{': ' + reason if reason else ''}"
                          f'{last}', logger='current', level=logging.WARNING)
                self.logged_paths[name] = logged + 1

    def attach(self, results: dict) -> dict:
        """Move the pending counts into ``results['fallbacks']`` (a dict kind -> count).

        A transform calls this on every sample it returns; a skipped sample (``None``) keeps its
        counts pending for the next one.
        """
        if self.pending:
            carried = results.setdefault('fallbacks', {})
            for name, n in self.pending.items():
                carried[name] = carried.get(name, 0) + n
            self.pending = {}
        return results

    def step(self) -> None:
        """Mark one sample done; logs the summary every ``log_interval`` samples."""
        self.num_samples += 1
        if (self.log_interval and self.num_samples % self.log_interval == 0
                and any(self.counts.values())):
            self.log()

    def summary(self) -> str:
        counts = ', '.join(f'{name}={count}' for name, count in self.counts.items())
        return (f'{self.owner} fallbacks after {self.num_samples} samples '
                f'(pid {os.getpid()}): {counts}')

    def log(self, level: int = logging.INFO) -> None:
        print_log(self.summary(), logger='current', level=level)

    def reset(self, names: Iterable[str] = ()) -> None:
        for name in (names or list(self.counts)):
            self.counts[name] = 0
            self.pending.pop(name, None)
        self.num_samples = 0

    def __repr__(self) -> str:
        return f'FallbackCounter({self.summary()})'
