"""Checkpoints that load under torch's weights-only default.

torch >= 2.6 loads checkpoints with ``weights_only=True``.  An mmengine Runner checkpoint stores,
beside tensors, its ``message_hub``: :class:`mmengine.logging.HistoryBuffer` objects holding numpy
arrays of logged values, and numpy scalars in ``meta``.  Without help ``resume=True`` fails with
"Unsupported global: numpy._core.multiarray.scalar".

Two pieces, both applied when mmsoco is imported (:mod:`mmsoco.global_setup`):

* :func:`allow_mmengine_checkpoint_globals` allow-lists exactly the globals such a checkpoint
  references (listed by :func:`mmengine_checkpoint_globals`); weights-only loading stays on for
  everything else.
* mmengine pickles a HistoryBuffer with its class-level table of statistic *functions*, which
  pickle writes as ``getattr(HistoryBuffer, 'min')``.  Allow-listing ``builtins.getattr`` would open
  weights-only loading wide, so :func:`_reduce_history_buffer` makes a HistoryBuffer pickle as
  ``HistoryBuffer(log_history, count_history, max_length)`` instead.  The statistic functions are
  defined by the class and come back with it.

``tests/test_checkpoint_resume.py`` trains a Runner, resumes it and fails if either piece breaks.
"""
import copyreg

import numpy as np
import torch
from mmengine.logging import HistoryBuffer


def mmengine_checkpoint_globals() -> list:
    """The non-tensor globals in an mmengine 0.10 Runner checkpoint (with the HistoryBuffer fix).

    Returns:
        list: ``HistoryBuffer``, numpy's ndarray / scalar reconstruction helpers, and the dtype
        classes of logged values (numpy 2 restores a dtype's state on its concrete class,
        e.g. ``numpy.dtypes.Float64DType``).
    """
    multiarray = np._core.multiarray if hasattr(np, '_core') else np.core.multiarray
    dtype_classes = sorted({type(np.dtype(t)) for t in ('bool', 'uint8', 'int32', 'int64',
                                                        'float16', 'float32', 'float64')},
                           key=lambda c: c.__name__)
    return [HistoryBuffer, multiarray.scalar, multiarray._reconstruct, np.ndarray, np.dtype,
            *dtype_classes]


def _reduce_history_buffer(buf: HistoryBuffer) -> tuple:
    return HistoryBuffer, (buf._log_history, buf._count_history, buf.max_length)


def allow_mmengine_checkpoint_globals() -> None:
    """Let ``torch.load(weights_only=True)`` read mmengine Runner checkpoints."""
    copyreg.pickle(HistoryBuffer, _reduce_history_buffer)
    torch.serialization.add_safe_globals(mmengine_checkpoint_globals())
