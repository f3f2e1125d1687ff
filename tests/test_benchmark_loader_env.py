"""The GPU benchmark's DataLoader is set up as training sets it up: OpenCV's thread count read
inside a DataLoader worker equals the count inside a worker of a loader that a Runner (built with
the shipped pretraining config's ``env_cfg``) builds.  Each side runs in a fresh process, so
neither inherits the other's (or pytest's) OpenCV setting."""
import json
import os
import subprocess
import sys

from mmsoco.testing import REPO

#: the config training is checked against: the one the benchmark reads its env_cfg from
TRAINING_CONFIG = 'configs/soco/soco_resnet50-fpn_16xb128-coslr-100e_in1k.py'

PROBE = '''
import json, os, sys
import cv2
import torch
from torch.utils.data import Dataset


class ThreadProbe(Dataset):
    """Each item: OpenCV's thread count and the pid of the worker that read it."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return torch.tensor([cv2.getNumThreads(), os.getpid()])


def worker_threads(loader):
    seen = {}
    for batch in loader:
        for threads, pid in batch.tolist():
            seen[pid] = threads
        if len(seen) == 2:
            break
    assert os.getpid() not in seen, 'the loader ran in the main process'
    return sorted(seen.values())


if sys.argv[1] == 'training':
    import tempfile
    from mmengine.config import Config
    from mmengine.runner import Runner
    import mmsoco  # noqa: F401
    cfg = Config.fromfile(os.path.join(sys.argv[2], sys.argv[3]))
    runner = Runner(model=torch.nn.Linear(1, 1), work_dir=tempfile.mkdtemp(),
                    env_cfg=cfg.env_cfg, default_scope='mmselfsup')
    loader = runner.build_dataloader(dict(
        batch_size=2, num_workers=2, dataset=ThreadProbe(),
        collate_fn=dict(type='default_collate'),
        sampler=dict(type='DefaultSampler', shuffle=False)), seed=0)
else:
    import importlib.util
    spec = importlib.util.spec_from_file_location('bench', os.path.join(
        sys.argv[2], 'tools', 'benchmarks', 'benchmark_gpu_throughput.py'))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    loader = bench.build_loader('.', batch=2, workers=2, pin_memory=False,
                                dataset=ThreadProbe())
print(json.dumps(dict(main=cv2.getNumThreads(), workers=worker_threads(loader))))
'''


def _threads(tmp_path, side):
    script = tmp_path / 'probe.py'
    script.write_text(PROBE)
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run([sys.executable, str(script), side, REPO, TRAINING_CONFIG],
                          capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_opencv_threads_in_benchmark_workers_equal_training(tmp_path):
    training = _threads(tmp_path, 'training')
    benchmark = _threads(tmp_path, 'benchmark')
    assert benchmark['workers'] == training['workers'], (benchmark, training)
    assert benchmark['main'] == training['main']
