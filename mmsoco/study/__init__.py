"""The transfer study: SoCo vs BYOL vs scratch (and any registered pretraining method) on a
small detection set or a segmentation folder (``tools/transfer_study.py``).

See :mod:`mmsoco.study.study` for the stages, :mod:`mmsoco.study.arms` for the arms (and how to
add one), and ``docs/transfer_study.md``.
"""
from .arms import (ALL_ARMS, ARM_TABLE, ARMS, INIT_ARMS, METHODS, Arm, Method, PretrainData,
                   register_arm, register_method)
from .datasets import fixed_split, write_split, write_toy_set
from .det_study import DetStudySettings, DetTransferStudy
from .metrics import parse_metrics
from .seg_study import SegStudySettings, SegTransferStudy
from .stages import StageBook, StageMismatchError, StageRecord
from .study import StudySettings, TransferStudy

__all__ = ['ARMS', 'INIT_ARMS', 'ALL_ARMS', 'ARM_TABLE', 'METHODS', 'Arm', 'Method',
           'PretrainData', 'register_arm', 'register_method', 'StudySettings', 'TransferStudy',
           'DetStudySettings', 'DetTransferStudy', 'SegStudySettings', 'SegTransferStudy',
           'parse_metrics', 'StageBook', 'StageRecord', 'StageMismatchError', 'fixed_split',
           'write_split', 'write_toy_set']
