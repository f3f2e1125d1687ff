"""Read checkpoints without running code: torch's weights-only loader, with exact allow-lists.

* :func:`torch_load_weights_only`: ``torch.load(weights_only=True)`` on the CPU; a file that is
  not a (complete) torch checkpoint is one :class:`SoCoCheckpointError` naming it;
* :func:`read_weights_only`: the same for any source a converter takes, with what an mmengine
  Runner checkpoint holds (:func:`mmsoco.utils.mmengine_checkpoint_globals`, the HistoryBuffer
  statistics of :func:`_history_buffer_getattr`) and ``argparse.Namespace`` (the training
  arguments of an original SoCo checkpoint) allowed; every refusal is one line;
* :func:`load_numpy_pickle`: a pickle of numpy arrays (a Detectron2 ``.pkl``), unpickling numpy's
  array and dtype reconstruction and ``OrderedDict`` only.
"""
import argparse
import collections
import os.path as osp
import pickle
import re
from typing import Optional, Type

import numpy as np
import torch

from mmsoco.utils import allow_mmengine_checkpoint_globals, mmengine_checkpoint_globals


class SoCoCheckpointError(ValueError):
    """The input is not a SoCo checkpoint, or not the variant/network that was asked for."""


def torch_load_weights_only(path: str) -> object:
    """``torch.load(path, weights_only=True)`` on the CPU; a file that is not a (complete) torch
    checkpoint raises :class:`SoCoCheckpointError` naming it, not torch's bare error (garbage
    gives ``KeyError`` or ``IndexError``, a truncated file ``RuntimeError`` or ``OSError``).  A
    missing file stays ``FileNotFoundError``; a refused global stays ``UnpicklingError``."""
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except FileNotFoundError:
        raise
    except (RuntimeError, LookupError, EOFError, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else ''
        raise SoCoCheckpointError(f'{path} is not a readable torch checkpoint ({type(e).__name__}: '
                                  f'{first}); is the file complete?') from None


def unpickling_reason(error: Exception) -> str:
    """The reason in torch's weights-only refusal (``'Unsupported operand 103'``): its message
    opens with a paragraph on the ``weights_only`` default and gives the reason further down."""
    m = re.search(r'WeightsUnpickler error:\s*(\S[^\n]*)', str(error))
    return m.group(1) if m else (str(error).strip().splitlines() or [''])[0]


def _history_buffer_getattr(obj: object, name: str) -> object:
    """What ``getattr`` may do while unpickling: fetch a statistic of mmengine's HistoryBuffer.

    A Runner checkpoint pickles each HistoryBuffer of its ``message_hub`` with the class's
    statistic functions, as ``getattr(HistoryBuffer, 'min')`` (unless mmsoco was imported when it
    was saved, see :mod:`mmsoco.utils.checkpoint`).  Allow-listing ``getattr`` itself would let a
    file fetch and call any method; this stands in for it and allows exactly those look-ups.
    """
    from mmengine.logging import HistoryBuffer
    if obj is HistoryBuffer and name in ('min', 'max', 'current', 'mean'):
        return getattr(HistoryBuffer, name)
    what = getattr(obj, '__name__', type(obj).__name__)
    raise pickle.UnpicklingError(f'Unsupported global: GLOBAL getattr({what},{name})')


#: The globals allowed while reading a source, besides mmengine's (``mmsoco.utils``).
READ_GLOBALS = [argparse.Namespace, (_history_buffer_getattr, 'builtins.getattr'),
                (_history_buffer_getattr, '__builtin__.getattr')]


def read_weights_only(path: str, expected: str = '',
                      error: Type[SoCoCheckpointError] = SoCoCheckpointError) -> object:
    """Load ``path`` with torch's weights-only unpickler and :data:`READ_GLOBALS`.

    Args:
        path (str): The file.
        expected (str): What the caller understands, appended to every message (``'understood:
            ...'``).
        error (type): The :class:`SoCoCheckpointError` subclass to raise.

    Raises:
        SoCoCheckpointError: Missing, unreadable (truncated, garbage) or refused file (``error``);
            the message names the file.
    """
    tail = f'; {expected}' if expected else ''
    if not osp.isfile(path):
        raise error(f'{path}: no such file{tail}')
    allow_mmengine_checkpoint_globals()
    try:
        with torch.serialization.safe_globals(READ_GLOBALS):
            return torch_load_weights_only(path)
    except pickle.UnpicklingError as e:
        name = refused_global(e)
        if name:
            raise error(f'{path}: refused by the weights-only loader: it references {name}, '
                        f'which none of the understood layouts holds{tail}') from None
        # garbage that starts like a pickle: 'WeightsUnpickler error: Unsupported operand 95'
        raise error(f'{path} is not a readable torch checkpoint ({unpickling_reason(e)}); is '
                    f'the file complete?{" " + expected if expected else ""}') from None
    except SoCoCheckpointError as e:
        raise error(f'{e}{tail}') from None


def refused_global(error: Exception) -> Optional[str]:
    """The global a weights-only refusal names (``'fractions.Fraction'``), or None."""
    m = re.search(r'Unsupported global: GLOBAL (\S+)', str(error))
    return m.group(1) if m else None


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, strings, numbers and numpy arrays; refuses every other global."""

    def find_class(self, module: str, name: str):
        allowed = _numpy_pickle_globals()
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(
                f'refused global {module}.{name}: a weights pickle holds numpy arrays in plain '
                'containers only')
        return allowed[(module, name)]


def _numpy_pickle_globals() -> dict:
    """``(module, name) -> object`` for what pickled numpy arrays reference, numpy 1 and 2."""
    multiarray = np._core.multiarray if hasattr(np, '_core') else np.core.multiarray
    found = {}
    for mod in ('numpy.core.multiarray', 'numpy._core.multiarray'):   # written by numpy 1 / 2
        found[(mod, '_reconstruct')] = multiarray._reconstruct
        found[(mod, 'scalar')] = multiarray.scalar
    found[('numpy', 'ndarray')] = np.ndarray
    found[('numpy', 'dtype')] = np.dtype
    for cls in mmengine_checkpoint_globals():
        if isinstance(cls, type) and issubclass(cls, np.dtype):
            found[(cls.__module__, cls.__name__)] = cls
    found[('collections', 'OrderedDict')] = collections.OrderedDict
    return found


def load_numpy_pickle(path: str):
    """Read a pickle of numpy arrays (a Detectron2 ``.pkl`` weights file) without running code.

    :func:`pickle.load` would import and call whatever the file names; this reader resolves only
    numpy's array and dtype reconstruction and ``OrderedDict``.

    Raises:
        pickle.UnpicklingError: Naming the first global that is not allowed.
    """
    with open(path, 'rb') as f:
        return _NumpyOnlyUnpickler(f, encoding='latin1').load()
