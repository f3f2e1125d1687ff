"""Mixed precision on a GPU: the demo config (full SoCo R50-FPN) trains with ``--amp bf16`` and
``--amp fp16`` with finite losses and fp32 weights, and a checkpoint written on the GPU resumes on
the GPU on the same schedule.

Skipped without a CUDA GPU (CPU CI); ``tools/benchmarks/gpu_benchmark.sh`` runs it (its ``amp``
step), with a demo collection and its proposals in ``MMSOCO_DEMO_DATA`` when the GPU machine has
no opencv-contrib to compute them.
"""
import glob
import json
import math
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from mmsoco.testing import REPO

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason='needs a CUDA GPU (mmengine AMP runs on CUDA only); run on a GPU machine with '
    'tools/benchmarks/gpu_benchmark.sh')

DEMO = osp.join(REPO, 'configs', 'soco', 'soco_resnet50-fpn_1xb4-coslr-2e_demo.py')
ITERS = 8                                   # 16 images / batch 4 x 2 epochs


@pytest.fixture(scope='module')
def demo_data(tmp_path_factory):
    """``MMSOCO_DEMO_DATA`` (16 demo photos with proposals), else a fresh demo collection."""
    carried = os.environ.get('MMSOCO_DEMO_DATA')
    if carried:
        assert osp.isfile(osp.join(carried, 'proposals.npz')), f'{carried}: no proposals.npz'
        return carried
    import cv2
    if not hasattr(cv2, 'ximgproc'):
        pytest.skip('no demo data: set MMSOCO_DEMO_DATA (a demo collection with proposals, '
                    'data_prep.demo_collection) or install opencv-contrib-python')
    from data_prep.demo_collection import build_demo_collection
    from data_prep.generate_proposals import main as generate
    root = str(tmp_path_factory.mktemp('demo'))
    build_demo_collection(root, n_images=16)
    assert generate([osp.join(root, 'train'), '--out', osp.join(root, 'proposals.npz'),
                     '--workers', '2', '--no-progress']) == 0
    return root


def _train(work_dir, data, *extra):
    env = dict(os.environ, OMP_WAIT_POLICY='PASSIVE',
               PYTHONPATH=os.pathsep.join([REPO, os.environ.get('PYTHONPATH', '')]))
    proc = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'train.py'), DEMO, '--work-dir', work_dir,
         '--cfg-options', f'train_dataloader.dataset.data_root={data}/', *extra],
        capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]


def _scalars(work_dir):
    """Per-iteration logged values from mmengine's json log (vis_data/scalars.json)."""
    rows = {}
    for path in glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')):
        for line in open(path):
            row = json.loads(line)
            if 'momentum' in row:
                rows[row['iter']] = row
    return rows


@pytest.fixture(scope='module')
def runs(demo_data, tmp_path_factory):
    """``runs(dtype)``: the work dir of one full demo run (2 epochs), trained on first use, so a
    failing dtype fails only its own tests."""
    done = {}

    def run(dtype):
        if dtype not in done:
            work = str(tmp_path_factory.mktemp(f'amp_{dtype}'))
            _train(work, demo_data, '--amp', dtype)
            done[dtype] = work
        return done[dtype]

    return run


@pytest.mark.parametrize('dtype', ['bf16', 'fp16'])
def test_demo_config_trains_with_amp_on_gpu(dtype, runs):
    work = runs(dtype)
    rows = _scalars(work)
    assert sorted(rows) == list(range(1, ITERS + 1))
    for it, row in rows.items():
        losses = {k: v for k, v in row.items() if k.startswith('loss')}
        assert len(losses) == 5, losses                       # the sum and the 4 view pairs
        assert all(math.isfinite(v) for v in losses.values()), (it, losses)
    assert rows[ITERS]['momentum'] > rows[2]['momentum']      # the EMA schedule advanced

    ckpt = torch.load(osp.join(work, 'epoch_2.pth'), map_location='cpu',
                      weights_only=True)
    # weights (online and target) and LARS's momentum buffers stay fp32 under autocast
    weights = {k: v for k, v in ckpt['state_dict'].items() if v.is_floating_point()}
    assert any(k.startswith('target_net.') for k in weights)
    assert {v.dtype for v in weights.values()} == {torch.float32}
    buffers = [s['momentum_buffer'] for s in ckpt['optimizer']['state'].values()]
    assert buffers and {b.dtype for b in buffers} == {torch.float32}
    scaler = ckpt['optimizer']['loss_scaler']
    if dtype == 'fp16':
        assert scaler['scale'] > 0                            # dynamic loss scale, saved
    else:
        assert scaler == {}                                   # bf16: scaling disabled


def test_gpu_checkpoint_resumes_on_gpu_on_the_same_schedule(runs, demo_data, tmp_path):
    ref_dir = runs('fp16')
    reference = _scalars(ref_dir)
    resumed_dir = str(tmp_path / 'resumed')
    _train(resumed_dir, demo_data, '--amp', 'fp16', '--resume', osp.join(ref_dir, 'epoch_1.pth'))
    resumed = _scalars(resumed_dir)
    second_epoch = list(range(ITERS // 2 + 1, ITERS + 1))
    assert sorted(resumed) == second_epoch                    # continued, not restarted
    for it in second_epoch:
        assert resumed[it]['lr'] == pytest.approx(reference[it]['lr'], rel=1e-6), it
        assert resumed[it]['momentum'] == pytest.approx(reference[it]['momentum'], rel=1e-9), it
        assert math.isfinite(resumed[it]['loss']), it
    ckpt = torch.load(osp.join(resumed_dir, 'epoch_2.pth'), map_location='cpu',
                      weights_only=True)
    assert ckpt['meta']['iter'] == ITERS and ckpt['optimizer']['loss_scaler']['scale'] > 0
