"""One registry story: mmsoco registers into the registries of its host, mmselfsup or mmpretrain.

mmsoco adds no registry of its own.  Its algorithms, necks, heads, RoI extractor, dataset,
transforms and hooks live in the host's registries (``mmselfsup.registry`` or
``mmpretrain.registry``), so a config's ``default_scope`` is the host's name and reaches mmdet
modules with the scope prefix (``type='mmdet.FPN'``).

**Which host.**  mmselfsup 1.0.0 and mmpretrain 1.2.0 cannot be imported in one process (both
register ``ResLayerExtraNorm`` into mmdet's registry: ``KeyError ... is already registered``), so a
process has one host, :data:`HOST`, chosen when mmsoco is first imported by the first rule that
applies:

1. **A host this process has already imported.**  The configs under ``configs/mmpretrain/`` list
   ``custom_imports = dict(imports=['mmpretrain', 'mmsoco'])``, so loading one of them (through
   ``tools/train.py``, ``tools/dist_train.sh``, ``mim train`` or ``Config.fromfile``) picks
   mmpretrain; so does ``import mmpretrain`` (or importing mmdet's models, which import mmpretrain
   whenever it is installed) before ``import mmsoco`` in a script.
2. **The environment variable** ``MMSOCO_HOST`` (``mmselfsup`` or ``mmpretrain``).
3. **mmselfsup** when it is installed (every config outside ``configs/mmpretrain/``), else
   mmpretrain.

Then the other host is blocked for the rest of the process (:class:`BlockedHost`): importing it
raises one ``ImportError`` that says why, which mmdet's optional ``import mmpretrain`` takes as
"not installed" (without the block, mmdet's models would import mmpretrain beside mmselfsup and
fail).  ``MMSOCO_HOST`` naming the other host than the one already imported, both hosts imported,
or neither installed, is one error that says what to do.  :func:`check_default_scope` tells a
config whose ``default_scope`` is the other host (``tools/train.py`` runs it).  The pieces that
differ by host (data sample, base model, EMA, LARS, MoCo, data preprocessor, precise-BN hook)
come from :mod:`mmsoco.host`; docs/mmpretrain.md says which route to choose.

On mmselfsup, :func:`drop_missing_locations` also repairs one defect of the released 1.0.0: its
``LOOPS``, ``RUNNERS`` and ``RUNNER_CONSTRUCTORS`` registries declare the lazy-import location
``mmselfsup.engine.runner``, which the package does not contain, so ``Runner.train()`` under
``default_scope='mmselfsup'`` dies with "No module named 'mmselfsup.engine.runner'".  It runs
when mmsoco is imported, with the other global changes, in :mod:`mmsoco.global_setup`.
"""
import os
import sys
from importlib import import_module
from importlib.abc import MetaPathFinder
from importlib.util import find_spec
from typing import Optional

from mmengine.registry import Registry

#: The libraries mmsoco can register into.
HOSTS = ('mmselfsup', 'mmpretrain')
#: The environment variable that picks the host when no host is imported yet.
HOST_VARIABLE = 'MMSOCO_HOST'


def _module_exists(name: str) -> bool:
    try:
        return find_spec(name) is not None
    except (ImportError, ValueError):  # a parent package is missing, or the name is blocked
        return False


def choose_host(environ=os.environ, modules=sys.modules,
                installed=_module_exists) -> str:
    """The host of this process, by the rules of this module's docstring.

    Args:
        environ (Mapping): Where ``MMSOCO_HOST`` is read. Defaults to ``os.environ``.
        modules (Mapping): The imported modules. Defaults to ``sys.modules``.
        installed (Callable[[str], bool]): Whether a package is installed.

    Returns:
        str: ``'mmselfsup'`` or ``'mmpretrain'``.
    """
    imported = [h for h in HOSTS if modules.get(h) is not None]
    wanted = environ.get(HOST_VARIABLE) or None
    if wanted is not None and wanted not in HOSTS:
        raise ValueError(f'{HOST_VARIABLE}={wanted!r}: use one of {", ".join(HOSTS)} (or unset '
                         'it: mmsoco then runs on mmselfsup when it is installed)')
    if len(imported) == 2:
        raise ImportError('mmselfsup and mmpretrain are both imported in this process; they cannot '
                          'share one: import only the host of your config')
    if imported:
        if wanted is not None and wanted != imported[0]:
            raise ImportError(
                f'{HOST_VARIABLE}={wanted} but {imported[0]} is already imported in this process '
                f'(mmdet\'s models import mmpretrain when it is installed): import mmsoco first, '
                f'or unset {HOST_VARIABLE}')
        return imported[0]
    if wanted is not None:
        return wanted
    for host in HOSTS:
        if installed(host):
            return host
    raise ImportError('mmsoco needs mmselfsup 1.0.0 or mmpretrain 1.2.0: install one '
                      '(tools/setup_env.sh installs both)')


class BlockedHost(MetaPathFinder):
    """An import hook that refuses one package (and its submodules) with a reason.

    Args:
        name (str): The refused top-level package.
        reason (str): The ``ImportError`` message.
    """

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    def find_spec(self, fullname, path=None, target=None):
        if fullname == self.name or fullname.startswith(self.name + '.'):
            raise ImportError(self.reason, name=fullname)
        return None


def block_other_host(host: str) -> Optional[BlockedHost]:
    """Refuse to import the host that is not ``host`` for the rest of the process (idempotent).

    Returns:
        BlockedHost or None: The hook installed now, None when one already was.
    """
    other = next(h for h in HOSTS if h != host)
    if any(isinstance(f, BlockedHost) and f.name == other for f in sys.meta_path):
        return None
    hook = BlockedHost(other, f'mmsoco runs on {host} in this process, and {other} cannot be '
                       f'imported beside it: run {other} work in a process of its own (a '
                       f'command: MMSOCO_HOST={other} before it; see docs/mmpretrain.md)')
    sys.meta_path.insert(0, hook)
    return hook


#: The host of this process: ``'mmselfsup'`` or ``'mmpretrain'``.
HOST = choose_host()
block_other_host(HOST)
_host_registry = import_module(f'{HOST}.registry')

DATA_SAMPLERS: Registry = _host_registry.DATA_SAMPLERS
DATASETS: Registry = _host_registry.DATASETS
HOOKS: Registry = _host_registry.HOOKS
LOOPS: Registry = _host_registry.LOOPS
MODELS: Registry = _host_registry.MODELS
OPTIM_WRAPPER_CONSTRUCTORS: Registry = _host_registry.OPTIM_WRAPPER_CONSTRUCTORS
OPTIMIZERS: Registry = _host_registry.OPTIMIZERS
RUNNER_CONSTRUCTORS: Registry = _host_registry.RUNNER_CONSTRUCTORS
RUNNERS: Registry = _host_registry.RUNNERS
TRANSFORMS: Registry = _host_registry.TRANSFORMS
VISUALIZERS: Registry = _host_registry.VISUALIZERS


def check_default_scope(default_scope: Optional[str]) -> Optional[str]:
    """Why a config with ``default_scope`` cannot run on this process's host, or None.

    Args:
        default_scope (str, optional): The config's ``default_scope``.

    Returns:
        str or None: One line naming the fix, None when the scope is the host's or no host's
        (an mmdet or mmseg config).
    """
    if default_scope not in HOSTS or default_scope == HOST:
        return None
    fix = ("set MMSOCO_HOST=mmpretrain before the command (in a config of your own, list "
           "'mmpretrain' before 'mmsoco' in custom_imports, as configs/mmpretrain/ do)"
           if default_scope == 'mmpretrain' else
           "use a config outside configs/mmpretrain/, and do not import mmpretrain (or mmdet's "
           "models) before mmsoco")
    return (f"the config's default_scope is '{default_scope}' but mmsoco registered into {HOST} "
            f'in this process: {fix}')


def drop_missing_locations(module=_host_registry) -> list:
    """Remove lazy-import locations that name modules which do not exist.

    Args:
        module (module): A module holding :class:`mmengine.Registry` objects. Defaults to the
            host's registry module.

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
