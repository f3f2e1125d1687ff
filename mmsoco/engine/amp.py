"""Mixed precision (AMP) for SoCo pretraining: mmengine's ``AmpOptimWrapper`` with a chosen dtype.

Two ways to switch it on, both ending in the same ``optim_wrapper``:

- in a config::

      optim_wrapper = dict(type='AmpOptimWrapper', dtype='bfloat16', optimizer=...)

- on the command line: ``tools/train.py CONFIG --amp bf16`` (or ``--amp fp16``; a bare ``--amp``
  means :data:`DEFAULT_AMP_DTYPE`), which calls :func:`apply_amp`.

``bf16`` has fp32's exponent range, so it needs no loss scaling: its ``GradScaler`` is built
disabled (no unscale pass, no skipped steps).  ``fp16`` keeps a dynamic loss scale (start 2**16,
halved on inf/NaN gradients, whose step is skipped, doubled after 2000 clean steps); the scale
is saved in the checkpoint with the optimizer and restored on resume.

What stays fp32 under autocast: the parameters and their gradients (autocast casts copies of the
weights for each op, the leaves keep their dtype), so the optimizer (mmselfsup's LARS: trust
ratio from ``torch.norm`` of the fp32 weight and gradient) and the target network's momentum
update (in-place ops on fp32 parameters, which autocast does not touch) run in fp32.  With fp16
the ``GradScaler`` unscales the gradients before LARS sees them.

mmengine's AMP runs on CUDA (and NPU/MLU/MUSA) only: its wrapper asserts that at construction,
deep inside the Runner.  :func:`check_amp` says so in one line before any of that is built.
"""
from typing import Optional

import torch
from mmengine.config import Config

#: what a bare ``--amp`` selects: bf16, the native mixed precision of Ampere and later GPUs
DEFAULT_AMP_DTYPE = 'bf16'

#: accepted spellings -> the dtype name ``AmpOptimWrapper`` takes
AMP_DTYPES = {
    'bf16': 'bfloat16',
    'bfloat16': 'bfloat16',
    'fp16': 'float16',
    'float16': 'float16',
}


class AmpUnavailableError(RuntimeError):
    """Mixed precision was asked for where mmengine cannot run it."""


def amp_dtype_name(dtype: str) -> str:
    """``'bf16'``/``'bfloat16'`` -> ``'bfloat16'``, ``'fp16'``/``'float16'`` -> ``'float16'``."""
    key = str(dtype).lower().replace('torch.', '')
    if key not in AMP_DTYPES:
        raise ValueError(f'unknown AMP dtype {dtype!r}; use one of {sorted(AMP_DTYPES)}')
    return AMP_DTYPES[key]


def amp_optim_wrapper(optim_wrapper: dict, dtype: str) -> dict:
    """An ``optim_wrapper`` config turned into ``AmpOptimWrapper`` with ``dtype``.

    Everything else (optimizer, ``paramwise_cfg``, clipping) is kept.

    Args:
        optim_wrapper (dict): An ``OptimWrapper`` (or ``AmpOptimWrapper``) config.
        dtype (str): ``'bf16'`` or ``'fp16'`` (or ``'bfloat16'``, ``'float16'``).

    Returns:
        dict: A new config; ``loss_scale`` is ``'dynamic'`` for fp16 unless the input set one,
        and a disabled scaler (``dict(enabled=False)``) for bf16.
    """
    name = amp_dtype_name(dtype)
    wrapper = dict(optim_wrapper)
    if wrapper.get('type', 'OptimWrapper') not in ('OptimWrapper', 'AmpOptimWrapper'):
        raise ValueError(f"--amp replaces an 'OptimWrapper'; this config has "
                         f"{wrapper['type']!r}")
    wrapper['type'] = 'AmpOptimWrapper'
    wrapper['dtype'] = name
    if name == 'bfloat16':
        wrapper['loss_scale'] = dict(enabled=False)   # bf16: fp32's range, nothing to scale
    elif wrapper.get('loss_scale') in (None, dict(enabled=False)):
        wrapper['loss_scale'] = 'dynamic'
    return wrapper


def check_amp(cfg: Config) -> Optional[str]:
    """Check that ``cfg``'s mixed precision can run here; return its dtype name or None.

    Raises:
        AmpUnavailableError: AMP on a machine without a CUDA GPU, or bf16 on a GPU without it.
    """
    wrapper = cfg.get('optim_wrapper', None) or {}
    if wrapper.get('type') != 'AmpOptimWrapper':
        return None
    dtype = wrapper.get('dtype', None)
    name = amp_dtype_name(dtype) if dtype is not None else 'float16'   # torch's CUDA default
    if not torch.cuda.is_available():
        raise AmpUnavailableError(
            f'mixed precision ({name}, AmpOptimWrapper) needs a CUDA GPU and none is visible; '
            'train without --amp (fp32) on this machine')
    if name == 'bfloat16' and not torch.cuda.is_bf16_supported():
        raise AmpUnavailableError(
            f'this GPU ({torch.cuda.get_device_name()}) has no bf16; use --amp fp16')
    return name


def apply_amp(cfg: Config, dtype: Optional[str] = None) -> Config:
    """Switch ``cfg`` to mixed precision (``--amp``) and check it can run here.

    Args:
        cfg (Config): The training config; changed in place.
        dtype (str, optional): ``'bf16'`` or ``'fp16'`` from the command line. None keeps the
            config's own choice (which is then only checked).

    Returns:
        Config: ``cfg``.

    Raises:
        AmpUnavailableError: see :func:`check_amp`.
        ValueError: an unknown dtype, or a config whose optim wrapper AMP cannot replace.
    """
    if dtype is not None:
        cfg.optim_wrapper = amp_optim_wrapper(cfg.optim_wrapper, dtype)
    check_amp(cfg)
    return cfg
