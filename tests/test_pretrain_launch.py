"""Pretraining through the real launchers: every config for one iteration, 2-process gloo DDP,
a killed run that resumes from its checkpoint, and the real model's exact resume in process."""
import glob
import hashlib
import json
import math
import os
import os.path as osp
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmsoco.registry import HOOKS
from mmsoco.testing import REPO, free_port, plain_bn

# The 400-epoch original recipes run the data paths of the 100-epoch ones (FPN: without the
# cutout; C4: the same), and their schedules are those of the paper-text 400-epoch configs.
# The continued-pretraining configs (*-init.py) have the models and views of the configs they
# start from, another schedule and a load_from: tests/test_init_checkpoint.py trains one of them
# from a converted file.
PRETRAIN_CONFIGS = sorted(c for c in glob.glob(osp.join(REPO, 'configs', 'soco', '*.py'))
                          if not c.endswith(('fpn_16xb128-coslr-400e_in1k_original-recipe.py',
                                             'c4_16xb128-coslr-400e_in1k_original-recipe.py',
                                             '-init.py')))
TINY = osp.join(REPO, 'tests', 'configs', 'soco_tiny_demo.py')


@pytest.fixture(scope='module')
def demo_data(tmp_path_factory):
    """A real demo collection (scikit-image photos) with its selective-search proposals."""
    from data_prep.demo_collection import build_demo_collection
    from data_prep.generate_proposals import main as generate
    root = str(tmp_path_factory.mktemp('demo'))
    build_demo_collection(root, n_images=8)
    assert generate([osp.join(root, 'train'), '--out', osp.join(root, 'proposals.npz'),
                     '--workers', '1']) == 0
    return root


def _env():
    return dict(os.environ, OMP_WAIT_POLICY='PASSIVE', OMP_NUM_THREADS='1',
                PYTHONPATH=os.pathsep.join([REPO, osp.join(REPO, 'tests'),
                                            os.environ.get('PYTHONPATH', '')]))


# Configs that repeat another's model and pipeline exactly (only the schedule, the data wiring
# or the BN type differs): built and loaded, not trained; the twin trains.
REPEATS = {
    'soco_resnet50-c4_16xb128-coslr-400e_in1k.py': 'soco_resnet50-c4_16xb128-coslr-100e_in1k.py',
    'soco_resnet50-fpn_16xb128-coslr-400e_in1k.py':
        'soco_resnet50-fpn_16xb128-coslr-100e_in1k.py',
    'soco_resnet50-fpn_1xb4-coslr-2e_demo.py': 'soco_resnet50-fpn_16xb128-coslr-100e_in1k.py',
}


def _demo_cfg(config, demo_data, work_dir):
    """A config on the demo collection: batch 2, one epoch of one iteration, plain BN."""
    cfg = Config.fromfile(config)
    cfg.work_dir = str(work_dir)
    cfg.model = plain_bn(cfg.model)
    ds = cfg.train_dataloader.dataset
    for sub in ds.datasets if ds.type == 'ConcatDataset' else [ds]:   # COCO: train + unlabeled
        sub.update(data_root=demo_data + '/', proposals_file='proposals.npz', ann_file='',
                   data_prefix=dict(img_path='train/'), indices=1 if sub is not ds else 2)
    cfg.train_dataloader.update(batch_size=2, num_workers=0, persistent_workers=False)
    cfg.train_cfg.max_epochs = 1
    cfg.default_hooks.logger.interval = 1
    return cfg


def _pipelines(cfg):
    ds = cfg.train_dataloader.dataset
    return [sub.pipeline for sub in (ds.datasets if ds.type == 'ConcatDataset' else [ds])]


def _num_views(cfg):
    """The views the config's pipeline makes: one sub-pipeline per view in the view transform."""
    [counts] = {len(step['view_transforms']) for pipeline in _pipelines(cfg)
                for step in pipeline if step['type'] in ('SoCoViews', 'SoCoOriginalViews')}
    return counts


def _first_lr(cfg):
    """The schedule's lr for the first iteration, from the config's numbers: the optimizer's lr,
    scaled by the batch over ``auto_scale_lr.base_batch_size`` (one process here), times the
    start factor of the warm-up that begins at 0."""
    lr = cfg.optim_wrapper.optimizer.lr
    if cfg.get('auto_scale_lr', {}).get('enable'):
        lr *= cfg.train_dataloader.batch_size / cfg.auto_scale_lr.base_batch_size
    [warmup] = [s for s in cfg.param_scheduler if s.get('begin', 0) == 0]
    return lr * (warmup.start_factor if warmup.type == 'LinearLR' else 1.)


@pytest.mark.parametrize('config', [c for c in PRETRAIN_CONFIGS
                                    if osp.basename(c) not in REPEATS], ids=osp.basename)
def test_config_trains_one_iteration(config, demo_data, tmp_path):
    cfg = _demo_cfg(config, demo_data, tmp_path)
    views = _num_views(cfg)
    # SoCo pairs V1 with every other view, both ways: V1<->V2 (C4), V1<->V3, V1<->V4 (SoCo*)
    expected = {f'train/loss_v{a}_v{b}' for v in range(2, views + 1)
                for a, b in ((1, v), (v, 1))}
    lr = _first_lr(cfg)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 1
    scalars = runner.message_hub.log_scalars
    assert {k for k in scalars if k.startswith('train/loss_')} == expected, list(scalars)
    for key in sorted(expected) + ['train/loss', 'train/momentum', 'train/lr']:
        assert math.isfinite(scalars[key].current()), key
    assert scalars['train/loss'].current() == pytest.approx(
        sum(scalars[k].current() for k in expected), rel=1e-5)
    assert scalars['train/lr'].current() == pytest.approx(lr, rel=1e-9)
    assert 0 < lr < cfg.optim_wrapper.optimizer.lr


@pytest.mark.parametrize('config', sorted(REPEATS), ids=str)
def test_config_repeating_another_builds_and_loads(config, demo_data, tmp_path):
    """Same model and view pipeline as its trained twin, so only building it and loading a
    sample is left to check."""
    from mmengine.registry import init_default_scope
    from mmselfsup.registry import DATASETS
    from mmsoco.registry import MODELS
    cfg = _demo_cfg(osp.join(REPO, 'configs', 'soco', config), demo_data, tmp_path)
    twin = _demo_cfg(osp.join(REPO, 'configs', 'soco', REPEATS[config]), demo_data, tmp_path)
    assert cfg.model.to_dict() == twin.model.to_dict()
    assert _pipelines(cfg) == _pipelines(twin)
    init_default_scope('mmselfsup')
    model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) > 0
    sample = DATASETS.build(cfg.train_dataloader.dataset)[0]
    assert len(sample['inputs']) == _num_views(cfg)
    assert _first_lr(cfg) > 0


def _scalars(log_dir):
    """Per-iteration (lr, momentum) of one run, from mmengine's json log (vis_data/scalars.json)."""
    rows = {}
    for line in open(osp.join(log_dir, 'vis_data', 'scalars.json')):
        row = json.loads(line)
        if 'momentum' in row:
            assert row['iter'] not in rows, f'iteration {row["iter"]} logged twice'
            rows[row['iter']] = (row['lr'], row['momentum'])
    return rows


def _train_cmd(work_dir, demo_data, *extra):
    return [sys.executable, osp.join(REPO, 'tools', 'train.py'), TINY, '--work-dir', work_dir,
            '--cfg-options', f'train_dataloader.dataset.data_root={demo_data}/', *extra]


def _wait_for_checkpoint(proc, work_dir, name):
    """Wait until mmengine has written ``name`` and pointed ``last_checkpoint`` at it."""
    last = osp.join(work_dir, 'last_checkpoint')
    deadline = time.time() + 300
    while proc.poll() is None:
        if osp.exists(last) and open(last).read().strip().endswith(name):
            return
        assert time.time() < deadline, f'no {name} after 300 s'
        time.sleep(0.1)
    raise AssertionError(f'the run ended (exit {proc.returncode}) before writing {name}')


def test_killed_run_resumes_from_its_last_checkpoint(demo_data, tmp_path):
    """tools/train.py --resume continues a SIGKILLed run: the tiny demo config is 8 iterations
    (8 images / batch 2 x 2 epochs); killed after epoch 1's checkpoint, the resumed run starts at
    iteration 5 with epoch 1's weights and trains iterations 5-8 only, on the schedule's lr and
    target momentum."""
    from dist_digest_hook import state_dict_digest
    run = str(tmp_path / 'killed')
    proc = subprocess.Popen(_train_cmd(run, demo_data), env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_checkpoint(proc, run, 'epoch_1.pth')
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not osp.exists(osp.join(run, 'epoch_2.pth')), 'the run finished before the kill'
    killed_logs = set(glob.glob(osp.join(run, '2*')))
    os.remove(osp.join(run, 'start_digest_rank0.txt'))

    subprocess.run(_train_cmd(run, demo_data, '--resume'), check=True, env=_env(),
                   capture_output=True)
    assert osp.exists(osp.join(run, 'epoch_2.pth'))
    [resumed_log] = set(glob.glob(osp.join(run, '2*'))) - killed_logs
    resumed = _scalars(resumed_log)
    assert sorted(resumed) == [5, 6, 7, 8]            # no iteration of epoch 1 trained again
    digest, start_iter = open(osp.join(run, 'start_digest_rank0.txt')).read().split()
    assert int(start_iter) == 4
    epoch1 = torch.load(osp.join(run, 'epoch_1.pth'), map_location='cpu', weights_only=True)
    assert digest == state_dict_digest(epoch1['state_dict'])   # weights, target and EMA steps
    # iteration 5 is the first of the cosine epoch: the full lr, 1.0 x batch 2 / 256 (auto-scaled
    # from base batch 256); the target momentum after 4 of 8 steps: 1 - 0.01 (cos(pi/2) + 1) / 2
    lr, momentum = resumed[5]
    assert lr == pytest.approx(2 / 256, rel=1e-6)
    assert momentum == pytest.approx(1 - 0.01 * (math.cos(math.pi * 4 / 8) + 1) / 2, rel=1e-7)
    assert resumed[8][1] > momentum


class _Interrupted(Exception):
    """Raised by :class:`_RecordSoCoSteps` to end a run as a killed job would."""


@HOOKS.register_module(force=True)
class _RecordSoCoSteps(Hook):
    """Records what a resumed run must reproduce, per iteration: iteration, epoch, lr, a digest
    of the batch (the data order and its random views) and the target network's step counter.
    With ``stop_after``, the run is interrupted once that epoch's checkpoint is written."""
    priority = 'LOWEST'
    records = []

    def __init__(self, stop_after=None):
        self.stop_after = stop_after

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        h = hashlib.sha256()
        for view in data_batch['inputs']:
            for img in view:
                h.update(img.numpy().tobytes())
        for sample in data_batch['data_samples']:
            h.update(sample.view_bboxes.numpy().tobytes())
        self._pending = (runner.iter, runner.epoch, runner.optim_wrapper.get_lr()['lr'][0],
                         h.hexdigest())

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        _RecordSoCoSteps.records.append(self._pending + (int(runner.model.target_net.steps), ))

    def after_train_epoch(self, runner):
        if runner.epoch + 1 == self.stop_after:
            raise _Interrupted


def _tiny_runner(demo_data, work_dir, name, stop_after=None, resume=False):
    cfg = Config.fromfile(TINY)
    cfg.work_dir = work_dir
    cfg.experiment_name = name        # one logger and message hub per run
    cfg.train_dataloader.dataset.data_root = demo_data + '/'
    # one worker, restarted each epoch and seeded alike: a resumed epoch draws the same views
    cfg.train_dataloader.update(num_workers=1, persistent_workers=False)
    cfg.custom_hooks = [dict(type='_RecordSoCoSteps', stop_after=stop_after)]
    cfg.log_level = 'WARNING'
    cfg.resume = resume
    _RecordSoCoSteps.records = []
    runner = Runner.from_cfg(cfg)
    try:
        runner.train()
    except _Interrupted:
        pass
    return runner, _RecordSoCoSteps.records


def _assert_same_tensors(a, b, what):
    assert list(a) == list(b), what
    for key in a:
        assert torch.equal(a[key], b[key]), f'{what}: {key}'


def test_soco_model_resumes_exactly_in_process(demo_data, tmp_path):
    """The real (tiny) SoCo model, interrupted after epoch 1 of 2 and resumed, ends bit for bit
    where the uninterrupted run ends: online and target weights, BN statistics, the EMA step
    counter, LARS's momentum buffers, and the same batches in the same order."""
    full, full_records = _tiny_runner(demo_data, str(tmp_path / 'full'), 'full')
    assert [r[0] for r in full_records] == list(range(8))
    assert [r[4] for r in full_records] == list(range(1, 9))     # one EMA step per iteration

    work_dir = str(tmp_path / 'cut')
    cut, first_half = _tiny_runner(demo_data, work_dir, 'cut', stop_after=1)
    assert first_half == full_records[:4]
    assert osp.exists(osp.join(work_dir, 'epoch_1.pth'))
    resumed, second_half = _tiny_runner(demo_data, work_dir, 'resumed', resume=True)
    assert second_half == full_records[4:]
    assert resumed.iter == 8 and int(resumed.model.target_net.steps) == 8

    _assert_same_tensors(resumed.model.state_dict(), full.model.state_dict(), 'model')
    opt_resumed = resumed.optim_wrapper.optimizer.state_dict()
    opt_full = full.optim_wrapper.optimizer.state_dict()
    assert opt_resumed['param_groups'] == opt_full['param_groups']
    assert set(opt_resumed['state']) == set(opt_full['state']) and opt_full['state']
    for idx, state in opt_full['state'].items():
        _assert_same_tensors(opt_resumed['state'][idx], state, f'LARS state {idx}')
    # and not trivially: epoch 2 moved the weights and the target away from epoch 1's
    cut_state = cut.model.state_dict()
    for key in ('backbone.conv1.weight', 'target_net.module.backbone.conv1.weight'):
        assert not torch.equal(cut_state[key], full.model.state_dict()[key]), key


def _fallback_lines(work_dir):
    """The DataFallbackHook lines of a run's log: (epoch, samples, {kind: count})."""
    found = []
    for path in glob.glob(osp.join(work_dir, '*', '*.log')):
        for m in re.finditer(r'SoCo data fallbacks, epoch (\d+) \(all workers and ranks, '
                             r'(\d+) samples\): (.*)', open(path).read()):
            counts = {} if m.group(3) == 'none' else {
                k: int(v) for k, v in (kv.split('=') for kv in m.group(3).split(', '))}
            found.append((int(m.group(1)), int(m.group(2)), counts))
    return found


def test_unreadable_images_are_summed_over_dataloader_workers(demo_data, tmp_path):
    data = str(tmp_path / 'data')
    shutil.copytree(demo_data, data)
    images = sorted(glob.glob(osp.join(data, 'train', '*', '*.jpg')))
    for path in images[:2]:                                   # two files broken after the search
        with open(path, 'wb') as f:
            f.write(b'not an image')
    work = str(tmp_path / 'w')
    cmd = _train_cmd(work, data, 'train_cfg.max_epochs=1', 'train_dataloader.num_workers=2',
                     'train_dataloader.persistent_workers=False')
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [(epoch, samples, counts)] = _fallback_lines(work)
    assert (epoch, samples) == (1, 8)                        # 8 images / batch 2 x 4 iterations
    # each skip is logged by the worker that took it; a redrawn sample may be broken too
    skips = (proc.stdout + proc.stderr).count('LoadImageOrSkip: skipped unreadable image')
    assert skips >= 2 and counts.get('unreadable') == skips, (counts, skips)


def _spaced(demo_data, tmp_path, sync_bn=False):
    """The tiny config and the demo collection under paths with spaces (the launcher quotes).
    The config names the data root: mmengine's --cfg-options drops spaces from values.
    ``sync_bn``: SyncBN everywhere, as the GPU configs have it."""
    data = tmp_path / 'demo data'
    os.symlink(demo_data, data)
    config = tmp_path / 'my configs' / 'tiny run.py'
    config.parent.mkdir()
    text = (f'_base_ = {TINY!r}\n'
            f'train_dataloader = dict(dataset=dict(data_root={str(data) + "/"!r}))\n')
    if sync_bn:
        text += ('sync = dict(type="SyncBN")\n'
                 'model = dict(backbone=dict(norm_cfg=sync), neck=dict(norm_cfg=sync), '
                 'head=dict(norm_cfg=sync), projector=dict(norm_cfg=sync), '
                 'predictor=dict(norm_cfg=sync))\n')
    config.write_text(text)
    return str(config)


def test_two_process_gloo_training_agrees_on_weights(demo_data, tmp_path):
    """2 CPU processes (DEVICE=cpu: gloo even where GPUs are); config, data root and work dir
    have spaces in their paths.  The config has SyncBN, as the GPU configs: DEVICE=cpu runs it
    with per-process BN (torch's DDP refuses SyncBN in CPU modules)."""
    config = _spaced(demo_data, tmp_path, sync_bn=True)
    work = str(tmp_path / 'work dir')
    cmd = ['bash', osp.join(REPO, 'tools', 'dist_train.sh'), config, '2', '--work-dir', work,
           '--cfg-options', 'train_cfg.max_epochs=1']
    env = dict(_env(), PORT=str(free_port()), PYTHON=sys.executable, DEVICE='cpu')
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    digests = [open(osp.join(work, f'digest_rank{r}.txt')).read().split() for r in (0, 1)]
    assert digests[0][1] == digests[1][1] == '2'      # 8 images / (2 ranks x batch 2)
    assert digests[0][0] == digests[1][0]
    assert osp.exists(osp.join(work, 'epoch_1.pth'))
    [(epoch, samples, _)] = _fallback_lines(work)            # rank 0's log, both ranks summed
    assert (epoch, samples) == (1, 8)


def test_multi_node_variables_reach_torchrun(demo_data, tmp_path):
    """NNODES, NODE_RANK, MASTER_ADDR and PORT become torchrun's node options, after the real
    one-process check.  PYTHON is a stand-in that runs the check with this interpreter and prints
    torchrun's arguments instead of starting it (torchrun's rendezvous is torchrun's; a 2-rank
    run of this launcher trains in test_two_process_gloo_training_agrees_on_weights)."""
    config = _spaced(demo_data, tmp_path)
    work = str(tmp_path / 'work dir')
    stub = tmp_path / 'python'
    stub.write_text('#!/bin/sh\n'
                    'if [ "$1" = -m ] && [ "$2" = torch.distributed.run ]; then\n'
                    '  shift 2; for a in "$@"; do echo "$a"; done; exit 0\n'
                    f'fi\nexec {shlex.quote(sys.executable)} "$@"\n')
    stub.chmod(0o755)
    cmd = ['bash', osp.join(REPO, 'tools', 'dist_train.sh'), config, '1', '--work-dir', work,
           '--cfg-options', 'train_cfg.max_epochs=1']
    env = dict(_env(), PYTHON=str(stub), CUDA_VISIBLE_DEVICES='', NNODES='2', NODE_RANK='1',
               MASTER_ADDR='10.1.2.3', PORT='30123')
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines() == [
        '--nnodes=2', '--node_rank=1', '--master_addr=10.1.2.3', '--nproc_per_node=1',
        '--master_port=30123', osp.join(REPO, 'tools', '..', 'tools', 'train.py'), config,
        '--launcher', 'pytorch', '--work-dir', work, '--cfg-options', 'train_cfg.max_epochs=1']
