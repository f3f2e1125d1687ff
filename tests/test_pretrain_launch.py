"""Pretraining through the real launchers: every config for one iteration, 2-process gloo DDP,
and a killed run that resumes on the same lr and momentum schedule."""
import glob
import json
import os
import os.path as osp
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from mmsoco.testing import REPO, plain_bn

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


@pytest.mark.parametrize('config', PRETRAIN_CONFIGS, ids=osp.basename)
def test_config_builds_and_runs_one_iteration(config, demo_data, tmp_path):
    cfg = Config.fromfile(config)
    cfg.work_dir = str(tmp_path)
    cfg.model = plain_bn(cfg.model)
    ds = cfg.train_dataloader.dataset
    for sub in ds.datasets if ds.type == 'ConcatDataset' else [ds]:   # COCO: train + unlabeled
        sub.update(data_root=demo_data + '/', proposals_file='proposals.npz', ann_file='',
                   data_prefix=dict(img_path='train/'), indices=1 if sub is not ds else 2)
    cfg.train_dataloader.update(batch_size=2, num_workers=0, persistent_workers=False)
    cfg.train_cfg.max_epochs = 1
    cfg.default_hooks.logger.interval = 1
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 1
    losses = runner.message_hub.log_scalars
    pairs = [k for k in losses if k.startswith('train/loss_v')]
    assert pairs, list(losses)
    for key in pairs + ['train/loss', 'train/momentum', 'train/lr']:
        value = losses[key].current()
        assert value == value, key            # logged and not NaN
    expected = 2 if 'c4' in config else (6 if 'soco-star' in config else 4)
    assert len(pairs) == expected, pairs


def _scalars(work_dir):
    """Per-iteration lr and momentum from mmengine's json log (vis_data/scalars.json)."""
    rows = {}
    for path in glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')):
        for line in open(path):
            row = json.loads(line)
            if 'momentum' in row:
                rows[row['iter']] = (row['lr'], row['momentum'])
    return rows


def _train_cmd(work_dir, demo_data, *extra):
    return [sys.executable, osp.join(REPO, 'tools', 'train.py'), TINY, '--work-dir', work_dir,
            '--cfg-options', f'train_dataloader.dataset.data_root={demo_data}/', *extra]


def test_killed_run_resumes_on_the_same_lr_and_momentum_schedule(demo_data, tmp_path):
    ref = str(tmp_path / 'ref')
    subprocess.run(_train_cmd(ref, demo_data), check=True, env=_env(), capture_output=True)
    reference = _scalars(ref)
    assert sorted(reference) == list(range(1, 9))          # 8 images / batch 2 x 2 epochs

    run = str(tmp_path / 'killed')
    proc = subprocess.Popen(_train_cmd(run, demo_data), env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not osp.exists(osp.join(run, 'epoch_1.pth')) and proc.poll() is None:
        assert time.time() < deadline, 'no checkpoint after epoch 1'
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not osp.exists(osp.join(run, 'epoch_2.pth')), 'the run finished before the kill'

    subprocess.run(_train_cmd(run, demo_data, '--resume'), check=True, env=_env(),
                   capture_output=True)
    resumed = _scalars(run)
    assert osp.exists(osp.join(run, 'epoch_2.pth'))
    for it in range(5, 9):                                    # the second epoch, after resume
        lr, momentum = resumed[it]
        assert lr == pytest.approx(reference[it][0], rel=1e-6), it
        assert momentum == pytest.approx(reference[it][1], rel=1e-9), it
    assert resumed[5][1] > resumed[4][1]                      # momentum keeps rising


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


def _spaced(demo_data, tmp_path):
    """The tiny config and the demo collection under paths with spaces (the launcher quotes).
    The config names the data root: mmengine's --cfg-options drops spaces from values."""
    data = tmp_path / 'demo data'
    os.symlink(demo_data, data)
    config = tmp_path / 'my configs' / 'tiny run.py'
    config.parent.mkdir()
    config.write_text(f'_base_ = {TINY!r}\n'
                      f'train_dataloader = dict(dataset=dict(data_root={str(data) + "/"!r}))\n')
    return str(config)


def test_two_process_gloo_training_agrees_on_weights(demo_data, tmp_path):
    """2 CPU processes (DEVICE=cpu: gloo even where GPUs are); config, data root and work dir
    have spaces in their paths."""
    config = _spaced(demo_data, tmp_path)
    work = str(tmp_path / 'work dir')
    cmd = ['bash', osp.join(REPO, 'tools', 'dist_train.sh'), config, '2', '--work-dir', work,
           '--cfg-options', 'train_cfg.max_epochs=1']
    env = dict(_env(), PORT=str(29500 + os.getpid() % 1000), PYTHON=sys.executable, DEVICE='cpu')
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    digests = [open(osp.join(work, f'digest_rank{r}.txt')).read().split() for r in (0, 1)]
    assert digests[0][1] == digests[1][1] == '2'      # 8 images / (2 ranks x batch 2)
    assert digests[0][0] == digests[1][0]
    assert osp.exists(osp.join(work, 'epoch_1.pth'))
    [(epoch, samples, _)] = _fallback_lines(work)            # rank 0's log, both ranks summed
    assert (epoch, samples) == (1, 8)


def test_multi_node_variables_reach_torchrun(demo_data, tmp_path):
    """NNODES, NODE_RANK, MASTER_ADDR and PORT: two launches of one process each, as two nodes
    on one machine (empty CUDA_VISIBLE_DEVICES: CPU, gloo), train one model of world size 2."""
    config = _spaced(demo_data, tmp_path)
    work = str(tmp_path / 'work dir')
    cmd = ['bash', osp.join(REPO, 'tools', 'dist_train.sh'), config, '1', '--work-dir', work,
           '--cfg-options', 'train_cfg.max_epochs=1']
    env = dict(_env(), PYTHON=sys.executable, CUDA_VISIBLE_DEVICES='', NNODES='2',
               MASTER_ADDR='127.0.0.1', PORT=str(30500 + os.getpid() % 1000))
    nodes = [subprocess.Popen(cmd, env=dict(env, NODE_RANK=str(r)), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for r in (0, 1)]
    errors = [node.communicate(timeout=600)[1] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], errors[0][-2000:] + errors[1][-2000:]
    digests = [open(osp.join(work, f'digest_rank{r}.txt')).read().split() for r in (0, 1)]
    assert digests[0][1] == digests[1][1] == '2'      # world size 2: 8 images / (2 x batch 2)
    assert digests[0][0] == digests[1][0]


@pytest.mark.parametrize('override, expected', [
    ('train_dataloader.dataset.data_root={missing}/', 'does not exist'),
    ('train_dataloader.dataset.proposals_file={missing}/p.npz', 'not found'),
])
def test_bad_data_config_stops_before_training_with_the_path(override, expected, demo_data,
                                                             tmp_path):
    missing = str(tmp_path / 'nowhere')
    cmd = _train_cmd(str(tmp_path / 'w'), demo_data, override.format(missing=missing))
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('error: ') and missing in last and expected in last, last
    assert 'Traceback' not in proc.stderr
    assert not glob.glob(str(tmp_path / 'w' / '*.pth'))


def test_proposals_file_that_matches_no_image_is_refused(demo_data, tmp_path):
    from data_prep.storage import ProposalStore
    other = str(tmp_path / 'other.npz')
    ProposalStore.write(other, [('elsewhere/a.jpg', [[0, 0, 50, 50]], (100, 100))])
    cmd = _train_cmd(str(tmp_path / 'w'), demo_data,
                     f'train_dataloader.dataset.proposals_file={other}')
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert 'covers none' in last and other in last, last
