"""Training-step time and peak memory of SoCo: ``single`` RoI pooling vs ``original``.

``single`` pools each box once, from the FPN level of its size, and embeds each view once.
``original`` is the original code's forward (see ``SoCo(roi_pooling=...)``): every box is pooled
on all four levels, each level goes through head, projector and predictor as a BN batch of its
own, the loss keeps the assigned level, and V1 is embedded once per pair (twice).

Batches come from the real data path by default (``--boxes pipeline``): the demo collection
(scikit-image photos), its selective-search proposals with the paper's filter, and the SoCo
training pipeline (K=4 proposals, V1/V2/V3 at 224/224/112 with their crops, flips and jitter),
then the model's data preprocessor.  ``--boxes random`` uses random boxes with sides of 10-50%
of the view instead (mostly P2/P3: smaller than the proposals SoCo trains on).

Every step takes the next of ``steps + warmup`` different batches, the same ones for both
strategies.  Each setting runs in its own subprocess, so that peak resident memory (CPU) or peak
allocated memory (GPU) belongs to that setting alone.  Prints the level histogram of the boxes,
then one row per (batch, pooling).

    .venv/bin/python tools/benchmarks/benchmark_soco_step.py                 # CPU, batch 2 and 8
    .venv/bin/python tools/benchmarks/benchmark_soco_step.py --device cuda   # on a GPU
    .venv/bin/python tools/benchmarks/benchmark_soco_step.py --ema           # target update only
    # default vs levers, one process, interleaved steps
    .venv/bin/python tools/benchmarks/benchmark_soco_step.py --batches 2 --compare-levers \\
        foreach_lars channels_last
"""
import argparse
import json
import os
import os.path as osp
import resource
import subprocess
import sys
import tempfile
import time


def shipped_model_cfg(pooling='single'):
    """The shipped R50-FPN model config with plain BN (one process); sets the default scope."""
    import mmsoco  # noqa: F401
    from mmengine.logging import MessageHub
    from mmengine.registry import DefaultScope
    from mmsoco.testing import model_cfg

    if not DefaultScope.check_instance_created('benchmark'):
        DefaultScope.get_instance('benchmark', scope_name='mmselfsup')
    MessageHub.get_current_instance().update_info('max_iters', 1000)
    cfg = model_cfg('fpn')
    cfg.roi_pooling = pooling
    return cfg


def build(cfg):
    from mmsoco.registry import MODELS
    return MODELS.build(cfg)


def pipeline_batches(batch: int, count: int, work: str, seed: int = 0):
    """``count`` batches of ``batch`` samples from the real SoCo data path, as the model gets them.

    Returns:
        list[tuple]: per batch, the views (3 tensors of shape (N, 3, S, S)) and data samples.
    """
    import random

    import numpy as np
    import torch
    from mmengine.dataset import default_collate

    from data_prep.demo_collection import build_demo_collection
    from data_prep.generate_proposals import main as generate_proposals
    from mmsoco.datasets import SoCoDataset
    from mmsoco.datasets.recipes import soco_train_pipeline

    preprocessor = build(shipped_model_cfg().data_preprocessor)   # also sets the default scope
    proposals = osp.join(work, 'proposals.npz')
    if not osp.exists(proposals):
        build_demo_collection(work, n_images=22)
        if generate_proposals([osp.join(work, 'train'), '--out', proposals, '--workers', '1',
                               '--no-progress']) != 0:
            sys.exit('benchmark: proposal generation failed')
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    dataset = SoCoDataset(data_root=work, proposals_file='proposals.npz',
                          pipeline=soco_train_pipeline(num_views=3))
    batches = []
    for b in range(count):
        data = default_collate([dataset[(b * batch + i) % len(dataset)] for i in range(batch)])
        batches.append(preprocessor(data, training=True))   # mmselfsup: (inputs, samples)
    return batches


def random_batches(batch: int, count: int):
    from mmsoco.testing import random_batch
    return [random_batch(n=batch, sizes=(224, 224, 112), k=4, seed=b) for b in range(count)]


def level_histogram(batches) -> str:
    """Share of boxes per FPN level (paper ranges), per view, over all the batches."""
    import torch

    from mmsoco.models.algorithms.soco import SoCo
    ext = build(shipped_model_cfg().roi_extractor)
    samples = [s for _, batch_samples in batches for s in batch_samples]
    rois, _ = SoCo.pack_rois(samples, len(samples[0].view_bboxes))
    lines = []
    for v, r in enumerate(rois):
        counts = torch.bincount(ext.map_roi_levels(r, 4), minlength=4).tolist()
        share = ' '.join(f'P{i + 2} {c / len(r):4.0%}' for i, c in enumerate(counts))
        lines.append(f'  V{v + 1}: {share}')
    return '\n'.join(lines)


def run_one(batch_file, pooling, device, steps, warmup):
    import torch
    torch.manual_seed(0)
    batches = torch.load(batch_file, weights_only=False)
    model = build(shipped_model_cfg(pooling)).to(device)
    model.init_weights()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    batches = [([x.to(device) for x in inputs], [s.to(device) for s in samples])
               for inputs, samples in batches]
    num_steps = 0

    def step():
        nonlocal num_steps
        inputs, samples = batches[num_steps % len(batches)]   # a new batch every step
        num_steps += 1
        losses = model.loss(inputs, samples)
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    sync = torch.cuda.synchronize if device == 'cuda' else (lambda: None)
    for _ in range(warmup):
        step()
    sync()
    if device == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    dt = (time.perf_counter() - t0) / steps
    if device == 'cuda':
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB
    return dict(batch=len(batches[0][1]), pooling=pooling, step_s=dt, peak_mib=peak,
                threads=torch.get_num_threads())


def ema_update_times(device: str, repeats: int = 20) -> None:
    """Time one target update of the R50-FPN SoCo: fused vs mmselfsup's per-tensor CosineEMA."""
    import torch
    import torch.nn as nn

    from mmsoco.host import CosineEMA   # mmselfsup's (the default host); the same loop on both

    model = build(shipped_model_cfg()).to(device)
    online = nn.ModuleDict(model._online_network())
    ema = model.target_net
    ema.update_parameters(online)                    # step 0 (a copy) out of the way
    sync = torch.cuda.synchronize if device == 'cuda' else (lambda: None)

    def per_tensor():  # mmselfsup's avg_func, one call per parameter, buffers left alone
        for t, o in zip(ema.module.parameters(), online.parameters()):
            CosineEMA.avg_func(ema, t.data, o.data, int(ema.steps))
        ema.steps += 1

    updates = [('fused (CosineMomentumEMA)', lambda: ema.update_parameters(online)),
               ('per tensor (CosineEMA.avg_func loop)', per_tensor),
               ('mmengine update_parameters (+ buffer copy)',
                lambda: CosineEMA.update_parameters(ema, online))]
    n = sum(p.numel() for p in online.parameters())
    print(f'target update, {len(list(online.parameters()))} tensors, {n / 1e6:.1f}M parameters, '
          f'device={device}, {torch.get_num_threads()} threads, median of {repeats}')
    times = {name: [] for name, _ in updates}
    for round_ in range(repeats + 3):             # interleaved, so load drift hits all alike
        for name, update in updates:
            sync()
            t0 = time.perf_counter()
            update()
            sync()
            if round_ >= 3:                         # 3 warm-up rounds
                times[name].append(time.perf_counter() - t0)
    for name, _ in updates:
        median = sorted(times[name])[repeats // 2]
        print(f'  {name:<45} {median * 1e3:8.2f} ms')


def compare_levers(levers, batch: int, steps: int, warmup: int, work: str, device: str) -> dict:
    """The default step against the step with ``levers``, in one process, steps interleaved.

    Both models start from the same weights and train on the same batches (the real data path)
    with the shipped LARS settings; their steps alternate (A B, then B A, ...) so that load from
    other work hits both alike.  ``levers`` are those of ``benchmark_gpu_throughput.py``
    (``foreach_lars``, ``channels_last``, ``compile``, ``tv_roi_align``).  Returns the median
    step times and their ratio.
    """
    import statistics

    import torch
    from mmengine.optim import build_optim_wrapper

    sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
    from benchmark_gpu_throughput import apply_levers, build_model, optim_wrapper_cfg
    batches = pipeline_batches(batch, steps + warmup, work)
    models, wrappers = {}, {}
    for name, lv in (('default', []), ('levers', list(levers))):
        torch.manual_seed(0)
        model = build_model('single', device, levers=lv)
        apply_levers(model, lv)
        models[name] = model.train()
        wrappers[name] = build_optim_wrapper(
            model, optim_wrapper_cfg(batch, 'fp32', foreach_lars='foreach_lars' in lv))
    sync = torch.cuda.synchronize if device.startswith('cuda') else (lambda: None)
    times = {name: [] for name in models}
    for i in range(warmup + steps):
        inputs, samples = batches[i]
        for name in (('default', 'levers') if i % 2 == 0 else ('levers', 'default')):
            model = models[name]
            t0 = time.perf_counter()
            loss, _ = model.parse_losses(model.loss([x.to(device) for x in inputs],
                                                    [s.to(device) for s in samples]))
            wrappers[name].update_params(loss)
            loss.item()
            sync()
            if i >= warmup:
                times[name].append(time.perf_counter() - t0)
    median = {name: statistics.median(t) for name, t in times.items()}
    return dict(batch=batch, levers=list(levers), steps=steps, warmup=warmup,
                default_s=median['default'], levers_s=median['levers'],
                speedup=median['default'] / median['levers'], threads=torch.get_num_threads())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--batches', type=int, nargs='+', default=[2, 8])
    parser.add_argument('--steps', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--boxes', default='pipeline', choices=['pipeline', 'random'],
                        help='batches from the real data path (default) or random boxes')
    parser.add_argument('--work-dir', help='where the demo collection and its proposals go '
                        '(default: a temporary folder)')
    parser.add_argument('--ema', action='store_true',
                        help='time the target-network update only (fused vs per tensor)')
    parser.add_argument('--compare-levers', nargs='+', metavar='LEVER',
                        help='instead: the default step against the step with these levers '
                        '(foreach_lars channels_last compile tv_roi_align), one process, steps '
                        'interleaved, shipped LARS; the first of --batches')
    parser.add_argument('--one', nargs=2, metavar=('BATCH_FILE', 'POOLING'),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')   # for the measuring subprocesses
    if args.one:
        print(json.dumps(run_one(*args.one, args.device, args.steps, args.warmup)))
        return
    if args.ema:
        ema_update_times(args.device)
        return
    if args.compare_levers:
        with tempfile.TemporaryDirectory() as tmp:
            r = compare_levers(args.compare_levers, args.batches[0], args.steps, args.warmup,
                               args.work_dir or tmp, args.device)
        print(f"SoCo R50-FPN step, batch {r['batch']}, device {args.device}, {r['threads']} "
              f"threads, shipped LARS, median of {r['steps']} interleaved steps after "
              f"{r['warmup']} warm-up: default {r['default_s']:.3f} s, with "
              f"{'+'.join(r['levers'])} {r['levers_s']:.3f} s, speed-up {r['speedup']:.2f}x")
        return
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        work = args.work_dir or tmp
        print(f'SoCo R50-FPN training step, 3 views (224, 224, 112), K=4 boxes/image, '
              f'{args.boxes} boxes, device={args.device}, {args.steps} timed steps after '
              f'{args.warmup} warm-up')
        files = {}
        for batch in args.batches:
            count = args.steps + args.warmup
            batches = (pipeline_batches(batch, count, work) if args.boxes == 'pipeline'
                       else random_batches(batch, count))
            files[batch] = osp.join(tmp, f'batch_{batch}.pt')
            torch.save(batches, files[batch])
            print(f'boxes per level, batch {batch} ({count} batches):\n'
                  f'{level_histogram(batches)}')
        print(f"{'batch':>5} {'pooling':>8} {'s/step':>8} {'s/img':>7} {'peak MiB':>9} "
              f"{'MiB/img':>8} {'speed-up':>8}")
        for batch in args.batches:
            rows = {}
            for pooling in ('original', 'single'):
                proc = subprocess.run(
                    [sys.executable, __file__, '--one', files[batch], pooling, '--device',
                     args.device, '--steps', str(args.steps), '--warmup', str(args.warmup)],
                    capture_output=True, text=True)
                if proc.returncode:
                    sys.exit(f'batch {batch}, pooling {pooling} failed:\n{proc.stderr[-3000:]}')
                rows[pooling] = r = json.loads(proc.stdout.strip().splitlines()[-1])
                speed = rows['original']['step_s'] / r['step_s']
                print(f"{batch:>5} {pooling:>8} {r['step_s']:>8.3f} {r['step_s'] / batch:>7.3f} "
                      f"{r['peak_mib']:>9.0f} {r['peak_mib'] / batch:>8.0f} {speed:>7.2f}x",
                      flush=True)


if __name__ == '__main__':
    main()
