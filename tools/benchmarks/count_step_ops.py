"""Operators one SoCo training step issues, at two batch sizes (CPU, tiny model).

If the number of top-level ATen operators grows with the batch, the step holds a per-image
Python loop (each operator is a kernel launch on a GPU); if it stays flat, the step's time on a
GPU goes to the kernels themselves.  Uses the tiny R50-FPN stand-in of the tests (ResNet-18
widths), random views and boxes, LARS as shipped, ``roi_pooling`` as given.

    python tools/benchmarks/count_step_ops.py --batches 2 8
"""
import argparse
import collections
import os
import os.path as osp
import sys

import torch


def count_ops(batch: int, pooling: str) -> collections.Counter:
    """Top-level ATen operators of one training step (after a first, warm-up step)."""
    from mmengine.optim import build_optim_wrapper

    from mmsoco.registry import MODELS
    from mmsoco.testing import model_cfg, random_batch
    sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
    from benchmark_gpu_throughput import optim_wrapper_cfg

    cfg = model_cfg('fpn', tiny=True)
    cfg.roi_pooling = pooling
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    model.train()
    optim_wrapper = build_optim_wrapper(model, optim_wrapper_cfg(batch, 'fp32'))
    inputs, samples = random_batch(n=batch, sizes=(64, 64, 32), k=4, seed=1)
    model.train_step(dict(inputs=[x.clone() for x in inputs], data_samples=samples),
                     optim_wrapper)                       # first step: EMA copy, lazy inits
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        model.train_step(dict(inputs=[x.clone() for x in inputs], data_samples=samples),
                         optim_wrapper)
    counts = collections.Counter()
    for event in prof.events():
        parent = event.cpu_parent
        if event.name.startswith('aten::') and (parent is None
                                                or not parent.name.startswith('aten::')):
            counts[event.name] += 1
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--batches', type=int, nargs=2, default=[2, 8])
    parser.add_argument('--pooling', default='single', choices=['single', 'original'])
    args = parser.parse_args()
    os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    torch.set_num_threads(1)
    import mmsoco  # noqa: F401
    from mmengine.logging import MessageHub
    from mmengine.registry import DefaultScope
    DefaultScope.get_instance('count-step-ops', scope_name='mmselfsup')
    MessageHub.get_current_instance().update_info('max_iters', 100)
    small, large = (count_ops(b, args.pooling) for b in args.batches)
    print(f'top-level ATen operators per training step, pooling {args.pooling}: '
          f'batch {args.batches[0]}: {sum(small.values())}, '
          f'batch {args.batches[1]}: {sum(large.values())}')
    grown = {k: large[k] - small.get(k, 0) for k in large if large[k] > small.get(k, 0)}
    print('operators that grew with the batch:',
          ', '.join(f'{k} +{n}' for k, n in sorted(grown.items(), key=lambda x: -x[1])) or 'none')


if __name__ == '__main__':
    main()
