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
import collections
import copyreg
import pickle

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


#: Prefix of every key of the target (momentum) network in a SoCo state dict: its modules
#: (``target_net.module.*``) and its EMA step counter (``target_net.steps``).
TARGET_NET_PREFIX = 'target_net.'


def publish_checkpoint(src: str, dst: str, keep_target: bool = False) -> str:
    """What OpenMMLab's publish step does, for a SoCo pretraining checkpoint.

    Keeps ``state_dict`` (the online network: backbone, neck, head, projector, predictor; the
    target network ``target_net.*`` only with ``keep_target``) and ``meta``; drops the optimizer
    state, the message hub, the schedulers and anything else a Runner saved for resuming.  Writes
    ``<dst without .pth>-<first 8 hex of its sha256>.pth``.

    Args:
        src (str): A Runner checkpoint (``epoch_100.pth``).
        dst (str): Output name, e.g. ``soco_resnet50-fpn_16xb128-coslr-100e_in1k_20261122.pth``.
        keep_target (bool): Keep the target network too. Defaults to False.

    Returns:
        str: The path written.
    """
    import hashlib
    import os
    import pickle

    from mmsoco.converters.soco_checkpoint import torch_load_weights_only, unpickling_reason
    allow_mmengine_checkpoint_globals()
    try:   # a garbage or truncated file: SoCoCheckpointError (a ValueError) naming it
        ckpt = torch_load_weights_only(src)
    except pickle.UnpicklingError as e:
        raise ValueError(f'{src} is not a readable torch checkpoint (UnpicklingError: '
                         f'{unpickling_reason(e)})') from None
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get('state_dict'), dict):
        raise ValueError(f'{src} is not a Runner checkpoint (no state_dict)')
    state_dict = {k: v for k, v in ckpt['state_dict'].items()
                  if keep_target or not k.startswith(TARGET_NET_PREFIX)}
    published = {'state_dict': state_dict}
    if 'meta' in ckpt:
        published['meta'] = ckpt['meta']
    stem = dst[:-len('.pth')] if dst.endswith('.pth') else dst
    # not data_prep.atomic_write: the final name holds the digest of the bytes written, so the
    # file is written under a temporary name, hashed, then renamed
    tmp = stem + '.tmp.pth'
    os.makedirs(os.path.dirname(os.path.abspath(tmp)), exist_ok=True)
    torch.save(published, tmp)
    with open(tmp, 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    final = f'{stem}-{digest[:8]}.pth'
    os.replace(tmp, final)
    return final
