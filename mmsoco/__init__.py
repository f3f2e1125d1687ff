"""mmsoco: SoCo (Selective Object COntrastive learning) for OpenMMLab.

Importing the package changes some global state, all listed in :mod:`mmsoco.global_setup`: the
host library it registers into (mmselfsup or mmpretrain, :mod:`mmsoco.registry`) is chosen and
the other refused, the host's registries are repaired and given mmsoco's modules, torch's
weights-only allow-list and a ``copyreg`` reducer for mmengine's checkpoints.
"""
from .version import __version__
from . import global_setup

global_setup.apply()

from . import datasets, engine, models  # noqa: E402,F401  (change 4: register modules)

__all__ = ['__version__']
