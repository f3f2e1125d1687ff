"""mmsoco: SoCo (Selective Object COntrastive learning) for OpenMMLab.

Importing the package registers its modules into mmselfsup's registries (see
:mod:`mmsoco.registry`) and allow-lists mmengine's checkpoint types for torch's weights-only load.
"""
from .version import __version__
from .registry import MISSING_LOCATIONS  # noqa: F401  (repairs mmselfsup's registries first)
from .utils import allow_mmengine_checkpoint_globals

allow_mmengine_checkpoint_globals()

from . import datasets, engine, models  # noqa: E402,F401  (register modules)

__all__ = ['__version__']
