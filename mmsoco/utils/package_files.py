"""Where the configs, tools and model index are, in a checkout and in an installed package.

OpenMMLab packages ship their configs and tools inside the package, under ``<package>/.mim``, so
that ``mim`` (and a user without a checkout) can find them.  mmsoco's ``setup.py`` puts
``configs/``, ``tools/`` and ``model-index.yml`` there: symbolic links in a development install
(``pip install -e .``), copies in a wheel or a regular install.  A checkout that was never
installed has no ``.mim``; its ``configs/`` next to the package is used instead.
"""
import os.path as osp

PACKAGE_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))
MIM_DIR = osp.join(PACKAGE_DIR, '.mim')
CHECKOUT_DIR = osp.dirname(PACKAGE_DIR)


def shipped_path(name: str) -> str:
    """The path of a shipped item (``'configs'``, ``'tools'``, ``'model-index.yml'``).

    Args:
        name (str): Top-level item of the repository that the package ships in ``.mim``.

    Returns:
        str: ``mmsoco/.mim/<name>`` when the installed package has it, else ``<checkout>/<name>``.

    Raises:
        FileNotFoundError: If neither exists (an install without its ``.mim`` folder).
    """
    for root in (MIM_DIR, CHECKOUT_DIR):
        path = osp.join(root, name)
        if osp.exists(path):
            return path
    raise FileNotFoundError(
        f'{name} is neither in the installed package ({MIM_DIR}) nor in a checkout '
        f'({CHECKOUT_DIR}); reinstall mmsoco (pip install mmsoco, or pip install -e . in a '
        'checkout), which ships it under mmsoco/.mim')


def config_path(relative: str) -> str:
    """A shipped config file, e.g. ``config_path('_base_/models/soco_r50_fpn.py')``."""
    path = osp.join(shipped_path('configs'), relative)
    if not osp.isfile(path):
        raise FileNotFoundError(f'no config {relative!r} under {shipped_path("configs")}')
    return path
