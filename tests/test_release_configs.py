"""The documented command and configs that reproduce their run: every config survives the dump the
Runner writes into its work dir, ``tools/train.py`` says in one line why a config cannot be used,
and ``tools/dist_train.sh`` refuses more GPUs than the node has before launching anything."""
import glob
import os
import os.path as osp
import stat
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from mmsoco.testing import REPO, installed

CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True) +
                 glob.glob(osp.join(REPO, 'tests', 'configs', '*.py')))
TRAIN = osp.join(REPO, 'tools', 'train.py')
DIST_TRAIN = osp.join(REPO, 'tools', 'dist_train.sh')
#: What a run is made of: the model, the data, the schedule (and the rest of the runtime).
PARTS = ('model', 'train_dataloader', 'val_dataloader', 'test_dataloader', 'val_evaluator',
         'optim_wrapper', 'param_scheduler', 'train_cfg', 'val_cfg', 'test_cfg', 'auto_scale_lr',
         'default_hooks', 'custom_hooks', 'env_cfg', 'randomness', 'load_from')


def test_every_config_file_is_covered():
    names = {osp.relpath(c, REPO) for c in CONFIGS}
    assert 'configs/soco_r50_fpn.py' in names
    assert sum(n.startswith('configs/soco/') for n in names) >= 7
    assert sum(n.startswith('configs/transfer/') for n in names) >= 11
    assert sum(n.startswith('configs/_base_/') for n in names) >= 7
    assert 'tests/configs/soco_tiny_demo.py' in names
    assert sum(n.startswith('configs/mmpretrain/') for n in names) >= 3


def test_every_runnable_config_has_a_file_name_of_its_own():
    """``mim train mmsoco NAME`` looks a config up by its file name among every config the
    package ships (``_base_`` folders included) and stops when two share it."""
    shipped = [c for c in CONFIGS if osp.relpath(c, REPO).startswith('configs/')]
    names = [osp.basename(c) for c in shipped]
    runnable = [c for c in shipped if '_base_' not in c.split(os.sep)]
    shared = sorted(osp.relpath(c, REPO) for c in runnable
                    if names.count(osp.basename(c)) > 1 and not c.endswith('soco_r50_fpn.py'))
    assert shared == [], f'configs that share a file name with another config: {shared}'


@pytest.mark.parametrize('config', CONFIGS, ids=lambda c: osp.relpath(c, REPO))
def test_config_reloads_from_the_dump_the_runner_writes(config, tmp_path):
    if osp.relpath(config, REPO).startswith(osp.join('configs', 'mmpretrain')) and \
            not installed('mmpretrain'):
        pytest.skip("mmpretrain is not installed: its configs' mmpretrain:: bases cannot load")
    # without their custom imports: mmsoco is imported (conftest.py), and this process, on
    # mmselfsup, refuses the mmpretrain that configs/mmpretrain/ import (mmsoco/registry.py)
    cfg = Config.fromfile(config, import_custom_modules=False)
    # mmengine's Runner.dump_config: self.cfg.dump(osp.join(work_dir, basename(cfg.filename)))
    dumped = str(tmp_path / osp.basename(cfg.filename))
    cfg.dump(dumped)
    reloaded = Config.fromfile(dumped, import_custom_modules=False)
    original, again = cfg.to_dict(), reloaded.to_dict()
    for part in PARTS:
        assert again.get(part) == original.get(part), part
    assert again == original


def test_the_documented_config_is_the_main_setting_unchanged():
    main = Config.fromfile(osp.join(REPO, 'configs', 'soco_r50_fpn.py')).to_dict()
    base = Config.fromfile(osp.join(
        REPO, 'configs', 'soco', 'soco_resnet50-fpn_16xb128-coslr-100e_in1k.py')).to_dict()
    assert main == base
    assert main['train_dataloader']['batch_size'] == 128 and main['train_cfg']['max_epochs'] == 100


def _run_train(*argv):
    env = dict(os.environ, OMP_WAIT_POLICY='PASSIVE', OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, TRAIN, *argv], capture_output=True, text=True,
                          env=env, cwd=REPO)


def test_train_py_names_a_mistyped_config_path_in_one_line(tmp_path):
    missing = osp.join('configs', 'soco', 'soco_resnet50-fpn_16xb128-coslr-100e_in1.py')
    proc = _run_train(missing, '--work-dir', str(tmp_path))
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [
        f'error: config file not found: {missing} (run from the repository root, or give the '
        'path of a file under configs/)']
    assert not os.listdir(tmp_path)


def test_train_py_says_in_one_line_why_a_config_does_not_parse(tmp_path):
    # what a dumped R50-FPN config held before scale bounds stopped using float('inf')
    bad = tmp_path / 'dumped.py'
    bad.write_text("_base_ = '" + osp.join(REPO, 'configs', 'soco_r50_fpn.py') + "'\n"
                   'model = dict(roi_extractor=dict(scale_ranges=[(0, 48), (192, inf)]))\n')
    proc = _run_train(str(bad), '--work-dir', str(tmp_path / 'w'))
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f'error: cannot load config {bad}: ') and "'inf'" in lines[0]
    assert 'Traceback' not in proc.stderr


# ------------------------------------------------------------------------- dist_train.sh checks
def _dist_train(gpus, env_extra, path_prefix=None):
    env = {k: v for k, v in os.environ.items() if k != 'CUDA_VISIBLE_DEVICES'}
    env.update(env_extra)
    if path_prefix:
        env['PATH'] = path_prefix + os.pathsep + env['PATH']
    return subprocess.run(['bash', DIST_TRAIN, 'configs/soco_r50_fpn.py', str(gpus)],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=120)


def test_dist_train_asks_for_more_gpus_than_this_node_has():
    """The real count of this machine (0 here), with the GPU path forced: no CPU fallback."""
    found = torch.cuda.device_count()
    proc = _dist_train(found + 1, {'DEVICE': 'cuda'})
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert f'asked for {found + 1} GPUs on this node but found {found}' in lines[0]
    assert 'NODE_RANK=.. MASTER_ADDR=.. tools/dist_train.sh configs/soco_r50_fpn.py' in lines[0]
    assert 'torch.distributed' not in proc.stderr and not proc.stdout


def test_dist_train_16_gpus_on_an_8_gpu_node_gives_the_two_node_command(tmp_path):
    """A node whose nvidia-smi lists 8 GPUs (an 8-line stand-in for the driver's tool)."""
    smi = tmp_path / 'nvidia-smi'
    smi.write_text('#!/bin/sh\n[ "$1" = -L ] || exit 9\nfor i in 0 1 2 3 4 5 6 7; do\n'
                   '  echo "GPU $i: NVIDIA H100 80GB HBM3 (UUID: GPU-0000000$i)"\ndone\n')
    smi.chmod(smi.stat().st_mode | stat.S_IEXEC)
    proc = _dist_train(16, {}, path_prefix=str(tmp_path))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        'dist_train.sh: asked for 16 GPUs on this node but found 8; GPUS counts GPUs per node, '
        'so spread the job over nodes: NNODES=2 NODE_RANK=.. MASTER_ADDR=.. '
        'tools/dist_train.sh configs/soco_r50_fpn.py 8']
    # CUDA_VISIBLE_DEVICES narrows what the job gets: 6 of the 8 -> 16 = 4 nodes x 4
    proc = _dist_train(16, {'CUDA_VISIBLE_DEVICES': '0,1,2,3,4,5'}, path_prefix=str(tmp_path))
    assert 'found 6' in proc.stderr and 'NNODES=4 ' in proc.stderr and \
        proc.stderr.strip().endswith('configs/soco_r50_fpn.py 4')
