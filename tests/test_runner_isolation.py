"""Runners built in different tests do not share a visualizer (tests/conftest.py).

mmengine keeps visualizers by name, and the default runtime of mmselfsup, mmdet and mmseg names its
one ``'visualizer'``. Without the ``fresh_visualizers`` fixture the second test's Runner gets the
first test's visualizer, which writes into the first test's work dir (removed when it passed).
The two tests run in this order, in one process (``--dist loadfile`` keeps a file together).
"""
from mmengine.runner import Runner
from torch import nn

SAVE_DIRS = []


def _runner(work_dir):
    return Runner(
        model=nn.Linear(2, 2),
        work_dir=str(work_dir),
        experiment_name=work_dir.name,
        visualizer=dict(
            type='Visualizer', name='visualizer', vis_backends=[dict(type='LocalVisBackend')]),
        default_scope='mmengine')


def _save_dir(runner):
    backend = runner.visualizer._vis_backends['LocalVisBackend']
    return backend._save_dir


def test_first_runner_writes_into_its_work_dir(tmp_path):
    save_dir = _save_dir(_runner(tmp_path))
    assert save_dir.startswith(str(tmp_path))
    SAVE_DIRS.append(save_dir)


def test_a_later_runner_gets_a_visualizer_of_its_own(tmp_path):
    save_dir = _save_dir(_runner(tmp_path))
    assert save_dir.startswith(str(tmp_path)), (save_dir, SAVE_DIRS)
    assert save_dir not in SAVE_DIRS
