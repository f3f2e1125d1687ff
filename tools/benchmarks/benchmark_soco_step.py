"""Training-step time and peak memory of SoCo: single-level RoI pooling vs all levels.

Each setting runs in its own subprocess so that peak resident memory (CPU) or peak allocated
memory (GPU) belongs to that setting alone.  Prints one table row per (batch, pooling).

    .venv/bin/python tools/benchmarks/benchmark_soco_step.py                 # CPU, batch 2 and 8
    .venv/bin/python tools/benchmarks/benchmark_soco_step.py --device cuda   # on a GPU
"""
import argparse
import json
import os
import os.path as osp
import resource
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def run_one(batch, pooling, device, steps, warmup, variant):
    import torch
    from mmengine.logging import MessageHub

    sys.path.insert(0, osp.join(REPO, 'tests'))
    import mmsoco  # noqa: F401
    from mmengine.registry import DefaultScope
    from mmsoco.registry import MODELS
    from soco_test_utils import model_cfg, random_batch

    torch.manual_seed(0)
    DefaultScope.get_instance('benchmark', scope_name='mmselfsup')
    MessageHub.get_current_instance().update_info('max_iters', 1000)
    cfg = model_cfg(variant)
    cfg.roi_pooling = pooling
    model = MODELS.build(cfg).to(device)
    model.init_weights()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    sizes = (224, 224, 112) if variant == 'fpn' else (224, 224)
    inputs, samples = random_batch(n=batch, sizes=sizes, k=4)
    inputs = [x.to(device) for x in inputs]
    samples = [s.to(device) for s in samples]

    def step():
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
    return dict(batch=batch, pooling=pooling, step_s=dt, peak_mib=peak,
                threads=torch.get_num_threads())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--batches', type=int, nargs='+', default=[2, 8])
    parser.add_argument('--steps', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--variant', default='fpn', choices=['fpn'])
    parser.add_argument('--one', help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')   # for the measuring subprocesses
    if args.one:
        batch, pooling = args.one.split(',')
        print(json.dumps(run_one(int(batch), pooling, args.device, args.steps, args.warmup,
                                 args.variant)))
        return
    print(f'SoCo R50-FPN training step, 3 views (224, 224, 112), K=4 boxes/image, '
          f'device={args.device}, {args.steps} timed steps after {args.warmup} warm-up')
    print(f"{'batch':>5} {'pooling':>8} {'s/step':>8} {'s/img':>7} {'peak MiB':>9} "
          f"{'MiB/img':>8} {'speed-up':>8}")
    for batch in args.batches:
        rows = {}
        for pooling in ('all', 'single'):
            proc = subprocess.run(
                [sys.executable, __file__, '--one', f'{batch},{pooling}', '--device',
                 args.device, '--steps', str(args.steps), '--warmup', str(args.warmup)],
                capture_output=True, text=True)
            if proc.returncode:
                sys.exit(f'batch {batch}, pooling {pooling} failed:\n{proc.stderr[-3000:]}')
            rows[pooling] = r = json.loads(proc.stdout.strip().splitlines()[-1])
            speed = rows['all']['step_s'] / r['step_s']
            print(f"{batch:>5} {pooling:>8} {r['step_s']:>8.3f} {r['step_s'] / batch:>7.3f} "
                  f"{r['peak_mib']:>9.0f} {r['peak_mib'] / batch:>8.0f} {speed:>7.2f}x",
                  flush=True)


if __name__ == '__main__':
    main()
