"""Everything ``import mmsoco`` changes outside mmsoco, in one place.

:func:`apply` runs once, from ``mmsoco/__init__.py``, before mmsoco's modules are imported.  Each
change, and why it is made:

0. **The host that is not this process's is refused at import** (:mod:`mmsoco.registry`: the
   host, mmselfsup or mmpretrain, is chosen when it is first imported, and an import hook then
   refuses the other with one ``ImportError`` naming why).  The two cannot share a process, and
   mmdet's models import mmpretrain whenever it is installed: without the hook an mmselfsup run
   would fail with mmdet's ``KeyError: 'ResLayerExtraNorm is already registered'``.
1. **The host's registries lose lazy-import locations that do not exist**
   (:func:`mmsoco.registry.drop_missing_locations`).  mmselfsup 1.0.0 declares
   ``mmselfsup.engine.runner`` for ``LOOPS``, ``RUNNERS`` and ``RUNNER_CONSTRUCTORS``; the package
   has no such module, so ``Runner.train()`` under ``default_scope='mmselfsup'`` dies with
   "No module named 'mmselfsup.engine.runner'".  Only locations that name a missing module are
   removed (recorded in :data:`MISSING_LOCATIONS`; mmpretrain 1.2.0 has none).
2. **torch's weights-only allow-list gains mmengine's checkpoint types**
   (``torch.serialization.add_safe_globals``, the exact list of
   :func:`mmsoco.utils.checkpoint.mmengine_checkpoint_globals`).  torch >= 2.6 loads with
   ``weights_only=True``, and a Runner checkpoint's ``message_hub`` holds mmengine's
   ``HistoryBuffer`` and numpy scalars: without them ``resume=True`` fails.  Everything else
   stays refused.
3. **``copyreg`` gets a reducer for mmengine's ``HistoryBuffer``**: it pickles as
   ``HistoryBuffer(log_history, count_history, max_length)`` instead of with its table of
   statistic functions (``getattr(HistoryBuffer, 'min')``), which weights-only loading could only
   read by allow-listing ``builtins.getattr``.
4. **The host's registries gain mmsoco's modules** (``SoCo``, its necks, heads, RoI extractor,
   dataset, transforms, hooks): mmsoco has no registry of its own (see :mod:`mmsoco.registry`),
   so configs keep the host's ``default_scope`` (``'mmselfsup'``, or ``'mmpretrain'`` under
   ``configs/mmpretrain/``).  This one happens as ``mmsoco/__init__.py``
   imports ``datasets``, ``engine`` and ``models`` after :func:`apply`.

``tests/test_foundation.py`` and ``tests/test_checkpoint_resume.py`` fail if 1-3 break,
``tests/test_mmpretrain_route.py`` if 0 does.
"""
from typing import List, Tuple

#: ``(registry name, location)`` of every lazy-import location change 1 removed.
MISSING_LOCATIONS: List[Tuple[str, str]] = []


def apply() -> None:
    """Make changes 0-3 (idempotent; 0 happens as :mod:`mmsoco.registry` is imported)."""
    from .registry import drop_missing_locations
    from .utils.checkpoint import allow_mmengine_checkpoint_globals
    MISSING_LOCATIONS.extend(drop_missing_locations())
    allow_mmengine_checkpoint_globals()
