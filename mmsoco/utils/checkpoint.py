"""Checkpoint loading under torch's weights-only default.

torch >= 2.6 loads checkpoints with ``weights_only=True``.  An mmengine Runner checkpoint stores,
beside the tensors, its ``message_hub`` (a plain dict of numpy scalars and arrays for logged values),
``meta`` (seeds, epochs, the dataset meta) and the optimizer/scheduler state.  Without help the
load fails with "Unsupported global: numpy._core.multiarray.scalar" and ``resume=True`` breaks.

Instead of switching weights-only loading off, :func:`allow_mmengine_checkpoint_globals`
allow-lists exactly the non-tensor types mmengine writes.  It is called once when mmsoco is
imported; ``tests/test_checkpoint_resume.py`` fails if a Runner checkpoint stops loading.
"""
import numpy as np
import torch


def mmengine_checkpoint_globals() -> list:
    """The Python globals found in mmengine 0.10 Runner checkpoints.

    Returns:
        list: numpy's scalar reconstructor, ``numpy.dtype`` and the concrete dtype classes
        (``float64``, ``int64``, ...), and ndarray reconstruction helpers.
    """
    multiarray = np._core.multiarray if hasattr(np, '_core') else np.core.multiarray
    dtype_classes = {type(np.dtype(t)) for t in ('float16', 'float32', 'float64', 'int8', 'int16',
                                                 'int32', 'int64', 'uint8', 'bool')}
    return [multiarray.scalar, multiarray._reconstruct, np.ndarray, np.dtype,
            *sorted(dtype_classes, key=lambda c: c.__name__)]


def allow_mmengine_checkpoint_globals() -> None:
    """Allow-list :func:`mmengine_checkpoint_globals` for ``torch.load(weights_only=True)``."""
    torch.serialization.add_safe_globals(mmengine_checkpoint_globals())
