"""The documented command on a machine without a GPU, and missing data: one line before any
process starts (``tools/dist_train.sh`` runs ``tools/train.py --check`` first), no traceback."""
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest
from mmengine.config import Config

from mmsoco.engine.preflight import CPU_CONFIG, PreflightError, check_device
from mmsoco.testing import REPO

DIST_TRAIN = osp.join(REPO, 'tools', 'dist_train.sh')
TRAIN = osp.join(REPO, 'tools', 'train.py')
VISUALIZE = osp.join(REPO, 'tools', 'visualize_views.py')
DOCUMENTED = 'configs/soco_r50_fpn.py'          # the README's command: 16 GPUs, SyncBN


def _run(cmd, **env_extra):
    """Run from the repository root as a user would, with no GPU visible (empty
    CUDA_VISIBLE_DEVICES) unless the caller says otherwise."""
    env = dict(os.environ, PYTHON=sys.executable, OMP_WAIT_POLICY='PASSIVE',
               CUDA_VISIBLE_DEVICES='', PYTHONPATH=REPO)
    env.update(env_extra)
    env = {k: v for k, v in env.items() if v is not None}   # None: unset
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)


def _one_line(proc):
    assert proc.returncode != 0
    assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr[-3000:]    # one line: torchrun never started
    assert not proc.stdout.strip(), proc.stdout
    return lines[0]


def _eight_gpu_smi(folder):
    """A stand-in for the driver's ``nvidia-smi -L`` on an 8-GPU node (no GPU here)."""
    smi = folder / 'nvidia-smi'
    smi.write_text('#!/bin/sh\n[ "$1" = -L ] || exit 9\nfor i in 0 1 2 3 4 5 6 7; do\n'
                   '  echo "GPU $i: NVIDIA H100 80GB HBM3 (UUID: GPU-0000000$i)"\ndone\n')
    smi.chmod(0o755)
    return f'{folder}{os.pathsep}{os.environ["PATH"]}'


@pytest.mark.parametrize('how', ['dist_train.sh', 'train.py', 'hidden GPUs', 'DEVICE=cpu'])
def test_syncbn_config_without_a_gpu_says_what_to_run_instead(how, tmp_path):
    """``tools/dist_train.sh configs/soco_r50_fpn.py 16`` on a CPU machine used to start 16
    processes that each died in DDP (``SyncBatchNorm layers only work with GPU modules``).
    'hidden GPUs': an 8-GPU node whose GPUs an empty CUDA_VISIBLE_DEVICES hides counts 0 GPUs,
    so the CPU path and its check apply (not 'found 8').  DEVICE=cpu on that node, with every
    GPU visible, skips the count and takes the CPU path with per-process BN (--plain-bn): the
    device check passes and the next check, the data, stops it."""
    cmd = [sys.executable, TRAIN, DOCUMENTED, '--launcher', 'pytorch'] if how == 'train.py' \
        else ['bash', DIST_TRAIN, DOCUMENTED, '16']
    env = {}
    if how == 'hidden GPUs':
        env = dict(PATH=_eight_gpu_smi(tmp_path))
    elif how == 'DEVICE=cpu':
        env = dict(PATH=_eight_gpu_smi(tmp_path), CUDA_VISIBLE_DEVICES=None, DEVICE='cpu')
    line = _one_line(_run(cmd, **env))
    if how == 'DEVICE=cpu':
        assert line.startswith("error: data root 'data/imagenet/' does not exist"), line
        return
    assert line.startswith(f'error: {DOCUMENTED} uses SyncBN, which needs CUDA GPUs'), line
    assert f'DEVICE=cpu tools/dist_train.sh {DOCUMENTED} N' in line
    assert 'make demo' in line and f'python tools/train.py {CPU_CONFIG}' in line
    assert osp.isfile(osp.join(REPO, CPU_CONFIG))
    cpu_cfg = Config.fromfile(osp.join(REPO, CPU_CONFIG))     # the named form has plain BN
    assert cpu_cfg.model.backbone.norm_cfg.type == 'BN'


def test_missing_data_root_names_the_path_and_the_step(tmp_path):
    """DEVICE=cpu with a plain-BN config passes the device check; the data root does not
    exist.  (mmengine's --cfg-options drops spaces from values: no space in this path.)"""
    root = str(tmp_path / 'nowhere') + '/'
    line = _one_line(_run(['bash', DIST_TRAIN, CPU_CONFIG, '2', '--cfg-options',
                           f'train_dataloader.dataset.data_root={root}'], DEVICE='cpu'))
    assert line.startswith(f"error: data root '{root}' does not exist"), line
    assert f'python -m data_prep.generate_proposals {root}train/ --out {root}proposals.npz' \
        in line


def test_missing_proposals_file_names_the_path_and_the_step(tmp_path):
    root = tmp_path / 'collection'
    (root / 'train').mkdir(parents=True)
    line = _one_line(_run(['bash', DIST_TRAIN, CPU_CONFIG, '2', '--cfg-options',
                           f'train_dataloader.dataset.data_root={root}/'], DEVICE='cpu'))
    assert line.startswith(f"error: proposals file '{root}/proposals.npz' not found"), line
    assert line.endswith(f'python -m data_prep.generate_proposals {root}/train/ '
                         f'--out {root}/proposals.npz')


def test_cuda_run_with_an_mmcv_built_without_cuda_ops_is_one_line():
    """This machine's mmcv has no CUDA ops (built without nvcc); a run that sees a GPU would fail
    in RoIAlign at the first step.  Here the GPU is pretended, the mmcv is the real one."""
    from mmcv.ops import get_compiling_cuda_version
    if get_compiling_cuda_version() != 'not available':
        pytest.skip('this mmcv was built with CUDA ops')
    cfg = Config.fromfile(osp.join(REPO, DOCUMENTED))
    with pytest.raises(PreflightError, match=r'mmcv 2\.0\.1 was built without its CUDA ops.*'
                       r'RoIAlign.*pip uninstall -y mmcv && PIP_NO_CACHE_DIR=1 make venv') as e:
        check_device(cfg, DOCUMENTED, distributed=True, cuda_available=True)
    assert '\n' not in str(e.value)
    check_device(cfg, DOCUMENTED, distributed=True, cuda_available=True,
                 mmcv_cuda_version='12.8')                   # a CUDA build passes


def test_visualize_views_on_a_missing_collection_is_one_line(tmp_path, run_tool):
    missing = str(tmp_path / 'nowhere') + '/'
    with pytest.raises(SystemExit) as e:
        run_tool(VISUALIZE, osp.join(REPO, CPU_CONFIG), '--out', str(tmp_path / 'v.png'),
                 '--cfg-options', f'train_dataloader.dataset.data_root={missing}')
    assert str(e.value).startswith(f"visualize_views: error: SoCoDataset: data_root '{missing}' "
                                   'does not exist'), e.value
    assert '\n' not in str(e.value) and not (tmp_path / 'v.png').exists()


def test_slurm_train_passes_paths_whole_and_uses_the_project_environment(tmp_path):
    """``srun`` stands in as a script that prints its arguments, one per line (no Slurm here)."""
    srun = tmp_path / 'bin' / 'srun'
    srun.parent.mkdir()
    srun.write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n')
    srun.chmod(0o755)
    config = str(tmp_path / 'my configs' / 'soco run.py')
    env = {k: v for k, v in os.environ.items() if k != 'PYTHON'}
    env['PATH'] = f'{srun.parent}{os.pathsep}{env["PATH"]}'
    proc = subprocess.run(['bash', osp.join(REPO, 'tools', 'slurm_train.sh'), 'gpu', 'soco job',
                           config, str(tmp_path / 'work dir'), '--amp', 'bf16'],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    args = proc.stdout.splitlines()
    venv = osp.join(REPO, 'tools', '..', '.venv', 'bin', 'python')
    python = venv if os.access(venv, os.X_OK) else 'python'
    i = args.index(python)
    assert args[i + 1:] == ['-u', osp.join(REPO, 'tools', '..', 'tools', 'train.py'), config,
                            f'--work-dir={tmp_path / "work dir"}', '--launcher=slurm', '--amp',
                            'bf16']
    assert '--job-name=soco job' in args and '--ntasks=16' in args


def test_slurm_train_without_slurm_says_what_is_missing(tmp_path):
    """Without ``srun`` the script used to print its ``set -x`` trace, then ``srun: command not
    found``; now one line before anything runs."""
    empty = tmp_path / 'bin'
    empty.mkdir()
    proc = subprocess.run([shutil.which('bash'), osp.join(REPO, 'tools', 'slurm_train.sh'), 'gpu',
                           'soco', DOCUMENTED], capture_output=True, text=True, timeout=60,
                          env=dict(PATH=str(empty)), cwd=REPO)
    line = _one_line(proc)
    assert line.startswith('slurm_train.sh: srun not found'), line
    assert 'tools/dist_train.sh CONFIG GPUS' in line


def test_proposals_file_of_another_image_folder_is_one_line_before_any_process(
        tmp_path, run_tool):
    """Its keys name images that are not in this collection: found from a sample of keys, before
    torchrun starts (it used to print the dataset's error twice, then ChildFailedError) and
    before train.py makes its work dir (it used to, after 464 lines of output)."""
    import cv2
    import numpy as np

    from data_prep.storage import ProposalStore
    from mmsoco.engine.preflight import check_proposal_keys, collection_paths

    root = tmp_path / 'collection'
    (root / 'train' / 'n0').mkdir(parents=True)
    for name in ('a.jpg', 'b.jpg'):
        cv2.imwrite(str(root / 'train' / 'n0' / name), np.full((32, 32, 3), 127, np.uint8))
    box = [[2, 2, 20, 20]]
    ProposalStore.write(str(root / 'proposals.npz'),
                        [(f'n9/other_{i}.jpg', box, (32, 32)) for i in range(3)])
    override = f'train_dataloader.dataset.data_root={root}/'
    line = _one_line(_run(['bash', DIST_TRAIN, CPU_CONFIG, '2', '--cfg-options', override],
                          DEVICE='cpu'))
    assert line.startswith(f"error: proposals file '{root}/proposals.npz' was made for another "
                           "image folder: 3 of 3 sampled keys (e.g. 'n9/other_0.jpg') are no "
                           f"image under '{root}/train/'"), line
    assert line.endswith(f'python -m data_prep.generate_proposals {root}/train/ '
                         f'--out {root}/proposals.npz')

    work = tmp_path / 'work'
    with pytest.raises(SystemExit, match='was made for another image folder'):
        run_tool(TRAIN, CPU_CONFIG, '--work-dir', str(work), '--cfg-options', override)
    assert not work.exists()

    # keys that name some of the images pass; the count of the others is returned
    ProposalStore.write(str(root / 'proposals.npz'),
                        [('n0/a.jpg', box, (32, 32)), ('n9/other.jpg', box, (32, 32))])
    paths = collection_paths(dict(data_root=f'{root}/', proposals_file='proposals.npz'))
    assert check_proposal_keys(paths, 'train_dataloader.dataset') == 1
    # a file of a larger collection whose sampled keys all miss (2 of 3 here) passes too: an
    # image of the folder has its entry
    ProposalStore.write(str(root / 'proposals.npz'), [
        (k, box, (32, 32)) for k in ('a/other.jpg', 'n0/b.jpg', 'z/other.jpg')])
    assert check_proposal_keys(paths, 'train_dataloader.dataset', sample=2) == 2
