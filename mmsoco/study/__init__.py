"""The transfer study: SoCo vs BYOL vs scratch on a small detection set (tools/transfer_study.py).

See :mod:`mmsoco.study.study` for the arms and stages, and ``docs/transfer_study.md``.
"""
from .datasets import fixed_split, write_split, write_toy_set
from .metrics import parse_metrics
from .stages import StageBook, StageMismatchError, StageRecord
from .study import ARMS, StudySettings, TransferStudy

__all__ = ['ARMS', 'StudySettings', 'TransferStudy', 'parse_metrics', 'StageBook',
           'StageRecord', 'StageMismatchError', 'fixed_split', 'write_split', 'write_toy_set']
