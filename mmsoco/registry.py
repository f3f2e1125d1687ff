"""One registry story: mmsoco registers into mmselfsup's registries.

mmsoco adds no registry of its own.  Its algorithm, neck, heads, RoI extractor, dataset and
transforms live in ``mmselfsup.registry``, so configs use ``default_scope = 'mmselfsup'`` and reach
mmdet modules with the scope prefix (``type='mmdet.FPN'``).

This module also repairs one defect of the released mmselfsup 1.0.0: its ``LOOPS``, ``RUNNERS`` and
``RUNNER_CONSTRUCTORS`` registries declare the lazy-import location ``mmselfsup.engine.runner``,
which the package does not contain, so ``Runner.train()`` under ``default_scope='mmselfsup'`` dies
with "No module named 'mmselfsup.engine.runner'".  :func:`drop_missing_locations` removes exactly
the locations that do not exist; every other lazy import keeps working.  It runs when mmsoco is
imported, with the other global changes, in :mod:`mmsoco.global_setup`.
"""
from importlib.util import find_spec

from mmselfsup import registry as _selfsup_registry
from mmselfsup.registry import (DATA_SAMPLERS, DATASETS, HOOKS, LOOPS, MODELS,  # noqa: F401
                                OPTIM_WRAPPER_CONSTRUCTORS, OPTIMIZERS, RUNNER_CONSTRUCTORS,
                                RUNNERS, TRANSFORMS, VISUALIZERS)
from mmengine.registry import Registry


def _module_exists(name: str) -> bool:
    try:
        return find_spec(name) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def drop_missing_locations(module=_selfsup_registry) -> list:
    """Remove lazy-import locations that name modules which do not exist.

    Args:
        module (module): A module holding :class:`mmengine.Registry` objects.

    Returns:
        list[tuple[str, str]]: ``(registry name, location)`` for every location removed.
    """
    removed = []
    for value in vars(module).values():
        if not isinstance(value, Registry):
            continue
        locations = getattr(value, '_locations', [])
        kept = [loc for loc in locations if _module_exists(loc)]
        removed += [(value.name, loc) for loc in locations if loc not in kept]
        value._locations = kept
    return removed
