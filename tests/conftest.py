"""Shared test setup: mmselfsup as the default registry scope (as configs run), ``run_tool``."""
import os

# OpenMP threads that spin while waiting make torch 10-25x slower on a 2-core machine as soon as
# anything else runs (measured: ResNet-18 step 2.6 s spinning vs 0.16 s passive).  Must be set
# before torch loads libgomp.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

import runpy  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402

import pytest  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402

import mmsoco  # noqa: F401,E402  (registers mmsoco's modules)


@pytest.fixture(autouse=True)
def mmselfsup_default_scope(request):
    """Every test starts in mmselfsup's scope, as configs run: a Runner built by an earlier test
    (mmdet's or mmseg's default_scope) would otherwise stay the current scope, and mmsoco's
    modules, registered in mmselfsup's registries, would not be found by name."""
    DefaultScope.get_instance(f'mmsoco-tests-{request.node.nodeid}', scope_name='mmselfsup')
    yield


@pytest.fixture(scope='module', autouse=True)
def remove_module_tmp_folders(request, tmp_path_factory):
    """Remove the folders a test module's fixtures made under the run's temporary root when the
    module ends (a toy study or a trained SoCo checkpoint is 0.5-2 GB), unless one of its tests
    failed: then they stay for inspection, as pytest keeps a failed test's ``tmp_path``.

    Without this, module-scoped fixtures' folders pile up until the run ends (19 GB for the whole
    suite), enough to fill a machine's disk.
    """
    base = tmp_path_factory.getbasetemp()
    before = set(os.listdir(base))
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before:
        return
    for name in set(os.listdir(base)) - before:
        shutil.rmtree(base / name, ignore_errors=True)


@pytest.fixture(autouse=True)
def fresh_visualizers():
    """Each test's Runners get a visualizer of their own.

    mmengine keeps visualizers by name and the default runtime names its one ``'visualizer'``, so a
    Runner built in a later test would otherwise reuse the first test's visualizer and write its
    config and scalars into that test's (removed) work dir.
    """
    yield
    from mmengine.visualization import Visualizer
    todo = [Visualizer]
    while todo:
        cls = todo.pop()
        cls._instance_dict.clear()
        todo.extend(cls.__subclasses__())


@pytest.fixture
def run_tool(monkeypatch):
    """Run a command-line tool in-process, as ``python PATH ARGV...`` would.

    ``sys.argv`` is restored when the test ends; a tool that exits raises ``SystemExit`` as usual.
    """

    def run(path, *argv):
        monkeypatch.setattr(sys, 'argv', [str(path), *argv])
        runpy.run_path(str(path), run_name='__main__')

    return run
