"""mmsoco's build: metadata and dependencies live in setup.cfg; this file adds the ``.mim`` folder.

OpenMMLab packages ship their configs, tools and model index inside the package, under
``mmsoco/.mim``, where ``mim`` (``mim train``, ``mim search``) and an installed user find them.
A development install (``pip install -e .``) links them, so edits in the checkout are live; a
wheel, sdist or regular install copies them (``package_data`` then carries them into the wheel).
"""
import os
import os.path as osp
import shutil
import sys

from setuptools import setup

ROOT = osp.dirname(osp.abspath(__file__))
MIM_DIR = osp.join(ROOT, 'mmsoco', '.mim')
SHIPPED = ('configs', 'tools', 'model-index.yml')


def mim_mode(argv):
    """``'symlink'`` for a development install, ``'copy'`` for a build or install, else None."""
    if 'develop' in argv or 'editable_wheel' in argv:   # pip install -e . (legacy / PEP 660)
        return 'copy' if os.name == 'nt' else 'symlink'
    if any(cmd in argv for cmd in ('sdist', 'bdist_wheel', 'install', 'build', 'build_py')):
        return 'copy'
    return None


def add_mim_extension():
    """Link or copy ``configs``, ``tools`` and ``model-index.yml`` into ``mmsoco/.mim``."""
    mode = mim_mode(sys.argv)
    if mode is None:
        return
    os.makedirs(MIM_DIR, exist_ok=True)
    for name in SHIPPED:
        src, dst = osp.join(ROOT, name), osp.join(MIM_DIR, name)
        if not osp.exists(src):
            continue
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if mode == 'symlink':
            os.symlink(osp.relpath(src, MIM_DIR), dst)
        elif osp.isdir(src):
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        else:
            shutil.copyfile(src, dst)


if __name__ == '__main__':
    add_mim_extension()
    setup()
