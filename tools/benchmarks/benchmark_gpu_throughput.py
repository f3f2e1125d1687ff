"""Pretraining throughput of SoCo R50-FPN from the real data path, on a GPU (or a CPU, small).

Every step is a real training step: a batch from ``SoCoDataset`` (JPEG decode, K=4 proposals,
V1/V2/V3 at 224/224/112, flips, box jitter, BYOL colour augmentations) through a DataLoader with
N workers (pinned memory, persistent workers, an infinite sampler), the model's data
preprocessor, forward of the online and target networks, backward, LARS with the shipped
parameter-wise settings (``configs/_base_/schedules/lars_coslr_100e.py``) inside mmengine's
``OptimWrapper`` / ``AmpOptimWrapper``, the EMA update, and the per-step ``.item()`` of every
logged value that mmengine's Runner does.  SyncBN is plain BN (one device).

Reported per setting (batch, precision, pooling, levers), each in its own subprocess so that
peak memory and ``torch.compile`` state belong to that setting alone:

- ``s/step`` and images/s per device (mean over the timed steps, after warm-up);
- data wait: the share of the step spent waiting for the next batch; ``model img/s`` is the
  throughput without that wait (what the device could do with an infinitely fast pipeline);
- peak memory: ``torch.cuda.max_memory_allocated`` (GPU) or the process's peak RSS (CPU);
- model FLOPs per image, counted by ``torch.utils.flop_counter.FlopCounterMode`` over one full
  training step (online forward + backward, target forward; mmcv's RoIAlign is a custom op the
  counter does not see, a negligible share), and the achieved share of the device's peak for
  that precision (vendor dense figures, :data:`PEAK_TFLOPS`);
- the pipeline's own ceiling: samples/s of the same DataLoader with no model, and which of
  the two binds.

Precisions: ``fp32`` (strict, TF32 off), ``tf32`` (fp32 weights, TF32 matmuls/convs), ``bf16`` and
``fp16`` (``AmpOptimWrapper``; fp16 with dynamic loss scaling, see ``mmsoco/engine/amp.py``).
Poolings: ``single`` (each box from its level) and ``original`` (every level, the original code;
older mmsoco called it ``all``).  Levers, each on/off: ``channels_last``, ``cudnn_benchmark``,
``compile`` (``torch.compile`` of the online and target backbones), ``non_blocking`` (host to
device copies), ``sgd`` (plain SGD instead of LARS: the cost of LARS's per-tensor norms and
their host syncs), ``pageable`` (DataLoader without pinned memory).

    # data: real photos + their selective-search proposals (computed once, cached); any photo
    # folders, e.g. COCO train2017 images (https://cocodataset.org) and the raccoon photos
    # (https://github.com/datitran/raccoon_dataset)
    python tools/benchmarks/benchmark_gpu_throughput.py --prepare-data work_dirs/gpu_data \\
        --photos DIR [DIR ...]
    # GPU: the matrix (batches 64, 128 x tf32/bf16/fp16 x single/original), then each lever
    python tools/benchmarks/benchmark_gpu_throughput.py --data work_dirs/gpu_data --workers 14 \\
        --lever-sweep --out results.jsonl
    # CPU, small
    python tools/benchmarks/benchmark_gpu_throughput.py --data work_dirs/gpu_data --device cpu \\
        --batches 2 --precisions fp32 --workers 2 --steps 3 --warmup 1
"""
import argparse
import inspect
import json
import os
import os.path as osp
import resource
import shutil
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

#: Vendor peak dense tensor throughput in TFLOP/s (NVIDIA datasheets; the "with sparsity"
#: figures halved).  Vendor figures, not measured here; fp32 is the non-tensor-core peak.
PEAK_TFLOPS = {
    'H100 SXM': dict(bf16=989.4, fp16=989.4, tf32=494.7, fp32=66.9),
    'H100 PCIe': dict(bf16=756.0, fp16=756.0, tf32=378.0, fp32=51.2),
    'H100 NVL': dict(bf16=835.5, fp16=835.5, tf32=417.5, fp32=60.0),
    'H200': dict(bf16=989.4, fp16=989.4, tf32=494.7, fp32=66.9),
}
PRECISIONS = ('fp32', 'tf32', 'bf16', 'fp16')
LEVERS = ('channels_last', 'cudnn_benchmark', 'compile', 'non_blocking', 'sgd', 'pageable')
#: levers that undo a default of training rather than try a speed-up (left out of "all on")
CONTROLS = ('sgd', 'pageable')
IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp')


def peak_tflops(device_name: str):
    """The :data:`PEAK_TFLOPS` entry for a CUDA device name, or None if it is not listed."""
    name = device_name.upper()
    if 'H200' in name:
        return 'H200', PEAK_TFLOPS['H200']
    if 'H100' in name:
        kind = 'H100 PCIe' if 'PCIE' in name else 'H100 NVL' if 'NVL' in name else 'H100 SXM'
        return kind, PEAK_TFLOPS[kind]
    return None, None


# ------------------------------------------------------------------------------------------------
# data
def prepare_data(out: str, photo_dirs, workers: int = 2) -> str:
    """Copy the photos of ``photo_dirs`` into ``out/train/<folder name>/`` and compute proposals.

    Selective search runs once (``data_prep.generate_proposals``, the shipped settings) into
    ``out/proposals.npz``; a second call keeps both.  Returns the proposals file.
    """
    for folder in photo_dirs:
        if not osp.isdir(folder):
            sys.exit(f'benchmark: photo folder {folder!r} not found')
        dst = osp.join(out, 'train', osp.basename(osp.normpath(folder)))
        os.makedirs(dst, exist_ok=True)
        for name in sorted(os.listdir(folder)):
            if name.lower().endswith(IMAGE_EXTS) and not osp.exists(osp.join(dst, name)):
                shutil.copy2(osp.join(folder, name), osp.join(dst, name))
    proposals = osp.join(out, 'proposals.npz')
    if not osp.exists(proposals):
        from data_prep.generate_proposals import main as generate_proposals
        if generate_proposals([osp.join(out, 'train'), '--out', proposals, '--workers',
                               str(workers), '--no-progress']) != 0:
            sys.exit('benchmark: proposal generation failed')
    return proposals


def check_data(data: str) -> None:
    if not osp.isfile(osp.join(data, 'proposals.npz')) or not osp.isdir(osp.join(data, 'train')):
        sys.exit(f'benchmark: {data!r} holds no train/ folder and proposals.npz; make it with '
                 '--prepare-data DIR --photos FOLDER [FOLDER ...]')


def set_scope(max_iters: int = 100000) -> None:
    """mmselfsup's registry scope (mmsoco registers there) and the run length the EMA reads."""
    import mmsoco  # noqa: F401
    from mmengine.logging import MessageHub, MMLogger
    from mmengine.registry import DefaultScope
    if not DefaultScope.check_instance_created('gpu-benchmark'):
        DefaultScope.get_instance('gpu-benchmark', scope_name='mmselfsup')
        # mmengine logs every initialised and every parameter-wise-configured tensor: errors only
        MMLogger.get_instance('gpu-benchmark', log_level='ERROR')
    MessageHub.get_current_instance().update_info('max_iters', max_iters)


def build_loader(data: str, batch: int, workers: int, pin_memory: bool, seed: int = 0):
    """The training DataLoader of the shipped recipe over ``data`` (an infinite sampler)."""
    from mmengine.runner import Runner

    from mmsoco.datasets.recipes import soco_train_pipeline
    set_scope()
    return Runner.build_dataloader(
        dict(batch_size=batch, num_workers=workers, pin_memory=pin_memory,
             persistent_workers=workers > 0,
             sampler=dict(type='InfiniteSampler', shuffle=True),
             collate_fn=dict(type='default_collate'),
             dataset=dict(type='SoCoDataset', data_root=data, proposals_file='proposals.npz',
                          data_prefix=dict(img_path='train/'),
                          pipeline=soco_train_pipeline(num_views=3))),
        seed=seed)


def pipeline_ceiling(data: str, batch: int, workers: int, batches: int, warmup: int,
                     pin_memory: bool) -> dict:
    """Samples/s of the DataLoader alone (decode, proposals, views, augmentations, collate)."""
    loader = build_loader(data, batch, workers, pin_memory)
    it = iter(loader)
    for _ in range(warmup):
        next(it)
    t0 = time.perf_counter()
    for _ in range(batches):
        next(it)
    dt = time.perf_counter() - t0
    return dict(batch=batch, workers=workers, samples_s=batch * batches / dt)


# ------------------------------------------------------------------------------------------------
# model
def resolve_pooling(name: str) -> str:
    """The name this checkout's ``SoCo`` uses for the original-code pooling (``original`` or
    ``all``), read from the check in ``SoCo.__init__``; other names are returned as given."""
    if name not in ('original', 'all'):
        return name
    from mmsoco.models.algorithms.soco import SoCo
    src = inspect.getsource(SoCo.__init__)
    for alias in ('original', 'all'):
        if f"'{alias}'" in src:
            return alias
    return name


def build_model(pooling: str, device: str):
    from mmsoco.registry import MODELS
    from mmsoco.testing import model_cfg
    set_scope()
    cfg = model_cfg('fpn')                      # the shipped R50-FPN config, SyncBN -> BN
    cfg.roi_pooling = resolve_pooling(pooling)
    model = MODELS.build(cfg)
    model.init_weights()
    return model.to(device)


def optim_wrapper_cfg(batch: int, precision: str, sgd: bool = False) -> dict:
    """The shipped LARS optim wrapper (lr scaled to the batch), AMP for bf16/fp16."""
    from mmengine.config import Config

    from mmsoco.engine.amp import amp_optim_wrapper
    cfg = Config.fromfile(osp.join(REPO, 'configs/_base_/schedules/lars_coslr_100e.py'))
    wrapper = cfg.optim_wrapper.to_dict()
    wrapper['optimizer']['lr'] = 1.0 * batch / 256
    if sgd:
        wrapper['optimizer'] = dict(type='SGD', lr=0.05 * batch / 256, momentum=0.9,
                                    weight_decay=1e-5)
    if precision in ('bf16', 'fp16'):
        wrapper = amp_optim_wrapper(wrapper, precision)
    return wrapper


def apply_levers(model, levers) -> None:
    """channels_last and torch.compile on a built model (benchmark-only switches)."""
    import torch
    nets = [model.backbone, model.target_net.module['backbone']]
    if 'channels_last' in levers:
        model.to(memory_format=torch.channels_last)

        def to_channels_last(module, args):
            return (args[0].contiguous(memory_format=torch.channels_last), ) + args[1:]

        def to_contiguous(module, args, output):
            # mmcv's RoIAlign indexes its input as contiguous NCHW and checks nothing: FPN
            # levels in channels_last would be pooled from the wrong memory
            return tuple(o.contiguous() for o in output)

        for net in nets:
            net.register_forward_pre_hook(to_channels_last)
        for neck in (model.neck, model.target_net.module['neck']):
            neck.register_forward_hook(to_contiguous)
    if 'compile' in levers:
        for net in nets:
            net.compile()


def run_setting(setting: dict) -> dict:
    """Train ``warmup + steps`` steps of one setting; time, memory and data wait of the last."""
    import torch
    from mmengine.optim import build_optim_wrapper

    device, precision, levers = setting['device'], setting['precision'], setting['levers']
    cuda = device.startswith('cuda')
    if cuda:
        tf32 = precision != 'fp32'
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cudnn.benchmark = 'cudnn_benchmark' in levers
    elif precision != 'fp32':
        raise SystemExit(f'benchmark: precision {precision!r} needs a GPU; use fp32 on CPU')
    torch.manual_seed(0)
    model = build_model(setting['pooling'], device)
    if 'non_blocking' in levers:
        model.data_preprocessor._non_blocking = True
    apply_levers(model, levers)
    model.train()
    optim_wrapper = build_optim_wrapper(
        model, optim_wrapper_cfg(setting['batch'], precision, 'sgd' in levers))
    loader = build_loader(setting['data'], setting['batch'], setting['workers'],
                          pin_memory=cuda and 'pageable' not in levers)
    it = iter(loader)
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    waits, totals, losses = [], [], []
    for step in range(setting['warmup'] + setting['steps']):
        t0 = time.perf_counter()
        data = next(it)
        t1 = time.perf_counter()
        log_vars = model.train_step(data, optim_wrapper)
        logged = {k: v.item() for k, v in log_vars.items()}   # the Runner's per-step .item()
        sync()
        t2 = time.perf_counter()
        if step >= setting['warmup']:
            waits.append(t1 - t0)
            totals.append(t2 - t0)
            losses.append(logged['loss'])
    step_s = sum(totals) / len(totals)
    wait_s = sum(waits) / len(waits)
    row = dict(setting, s_step=step_s, img_s=setting['batch'] / step_s,
               data_wait=wait_s / step_s, model_img_s=setting['batch'] / (step_s - wait_s),
               loss_first=losses[0], loss_last=losses[-1],
               finite=all(v == v and abs(v) != float('inf') for v in losses))
    if cuda:
        row.update(peak_mib=torch.cuda.max_memory_allocated() / 2**20,
                   reserved_mib=torch.cuda.max_memory_reserved() / 2**20,
                   device_name=torch.cuda.get_device_name())
        if precision == 'fp16':
            row['loss_scale'] = optim_wrapper.loss_scaler.get_scale()
    else:
        row.update(peak_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                   device_name='cpu', threads=torch.get_num_threads())
    return row


def count_flops(data: str, pooling: str, device: str, batch: int = 2) -> float:
    """Model FLOPs per image of one full training step (torch's FLOP counter)."""
    import torch
    from mmengine.optim import build_optim_wrapper
    from torch.utils.flop_counter import FlopCounterMode

    torch.manual_seed(0)
    model = build_model(pooling, device).train()
    optim_wrapper = build_optim_wrapper(model, optim_wrapper_cfg(batch, 'fp32'))
    data_batch = next(iter(build_loader(data, batch, workers=0, pin_memory=False)))
    model.train_step(data_batch, optim_wrapper)            # first step: EMA copy, lazy inits
    counter = FlopCounterMode(display=False)
    with counter:
        model.train_step(data_batch, optim_wrapper)
    return counter.get_total_flops() / batch


# ------------------------------------------------------------------------------------------------
# driver
def run_subprocess(setting: dict, timeout: float) -> dict:
    proc = subprocess.run([sys.executable, __file__, '--one', json.dumps(setting)],
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode:
        reason = (proc.stderr.strip().splitlines() or ['no output'])[-1]
        return dict(setting, error=reason[-300:], stderr_tail=proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def settings(args):
    """The matrix rows, then one row per lever toggled on the lever base (and all levers on)."""
    base_levers = [lv for lv in LEVERS if getattr(args, lv)]
    common = dict(device=args.device, data=osp.abspath(args.data), workers=args.workers,
                  steps=args.steps, warmup=args.warmup)
    if getattr(args, 'rows', None):
        matrix = [(int(b), p, q) for b, p, q in args.rows]
    else:
        matrix = [(b, p, q) for b in args.batches for p in args.precisions for q in args.poolings]
    rows = [dict(common, batch=b, precision=p, pooling=q, levers=base_levers)
            for b, p, q in matrix]
    if args.lever_sweep:
        b, p, q = args.lever_base
        b = int(b)
        rows.append(dict(common, batch=b, precision=p, pooling=q, levers=base_levers))
        for lever in LEVERS:
            toggled = sorted(set(base_levers) ^ {lever})
            rows.append(dict(common, batch=b, precision=p, pooling=q, levers=toggled))
        rows.append(dict(common, batch=b, precision=p, pooling=q,
                         levers=[lv for lv in LEVERS if lv not in CONTROLS]))
    seen, unique = set(), []
    for r in rows:
        key = (r['batch'], r['precision'], r['pooling'], tuple(sorted(r['levers'])))
        if key not in seen:
            seen.add(key)
            unique.append(r)
    return unique


def fmt_row(r: dict, flops: dict, ceiling: float, peak) -> str:
    levers = '+'.join(r['levers']) or '-'
    head = f"{r['batch']:>5} {r['precision']:>5} {r['pooling']:>8} {levers:>28}"
    if 'error' in r:
        return f"{head}  FAILED: {r['error']}"
    gflop = flops.get(r['pooling'])
    tflops = gflop * r['img_s'] / 1e3 if gflop else None
    util = (f"{100 * tflops / peak[r['precision']]:5.1f}%" if tflops and peak else '    -')
    binds = 'pipeline' if ceiling and ceiling < r['model_img_s'] else 'model'
    return (f"{head} {r['s_step']:>7.3f} {r['img_s']:>8.1f} {r['data_wait']:>6.1%} "
            f"{r['model_img_s']:>9.1f} {r['peak_mib']:>9.0f} "
            f"{(f'{tflops:.3g}' if tflops else '-'):>7} {util} {binds:>8}"
            f"{'' if r['finite'] else '  NON-FINITE LOSS'}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', default=osp.join(REPO, 'work_dirs', 'gpu_data'),
                        help='collection with train/ and proposals.npz (see --prepare-data)')
    parser.add_argument('--prepare-data', metavar='DIR',
                        help='copy --photos into DIR/train and compute DIR/proposals.npz, then '
                        'exit')
    parser.add_argument('--photos', nargs='+', metavar='DIR',
                        help='photo folders for --prepare-data')
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--batches', type=int, nargs='+',
                        help='per device (default: 64 128 on a GPU, 2 on the CPU)')
    parser.add_argument('--precisions', nargs='+', choices=PRECISIONS,
                        help='default: tf32 bf16 fp16 on a GPU, fp32 on the CPU')
    parser.add_argument('--poolings', nargs='+', default=['single', 'original'])
    parser.add_argument('--workers', type=int, default=min(14, (os.cpu_count() or 2)),
                        help='DataLoader workers')
    parser.add_argument('--steps', type=int, default=20, help='timed steps per setting')
    parser.add_argument('--warmup', type=int, default=5)
    for lever in LEVERS:
        parser.add_argument(f"--{lever.replace('_', '-')}", action='store_true',
                            help=f'lever on in every row: {lever}')
    parser.add_argument('--lever-sweep', action='store_true',
                        help='after the matrix, toggle each lever alone on --lever-base')
    parser.add_argument('--lever-base', nargs=3, default=['128', 'bf16', 'single'],
                        metavar=('BATCH', 'PRECISION', 'POOLING'))
    parser.add_argument('--row', dest='rows', nargs=3, action='append',
                        metavar=('BATCH', 'PRECISION', 'POOLING'),
                        help='one setting (repeatable); replaces the batches x precisions x '
                        'poolings matrix')
    parser.add_argument('--deadline', type=float,
                        help='Unix time after which no further row is started (a row is '
                        'skipped when the longest row so far would not end before it)')
    parser.add_argument('--no-flops', action='store_true', help='skip the FLOP count')
    parser.add_argument('--no-ceiling', action='store_true', help='skip the pipeline ceiling')
    parser.add_argument('--ceiling-batches', type=int, default=20)
    parser.add_argument('--timeout', type=float, default=600,
                        help='seconds one setting may take')
    parser.add_argument('--out', help='append every result as a JSON line to this file')
    parser.add_argument('--one', help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    if args.one:
        print(json.dumps(run_setting(json.loads(args.one))))
        return
    if args.prepare_data:
        if not args.photos:
            parser.error('--prepare-data needs --photos DIR [DIR ...] (folders of photos)')
        print(prepare_data(args.prepare_data, args.photos))
        return
    check_data(args.data)
    cuda = args.device.startswith('cuda')
    for b, p, q in args.rows or []:
        if not b.isdigit() or p not in PRECISIONS:
            parser.error(f'--row {b} {p} {q}: expected BATCH (an integer) PRECISION '
                         f'({"/".join(PRECISIONS)}) POOLING')
    args.batches = args.batches or ([64, 128] if cuda else [2])
    args.precisions = args.precisions or (['tf32', 'bf16', 'fp16'] if cuda else ['fp32'])
    import torch
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        sys.exit('benchmark: --device cuda but no CUDA GPU is visible; use --device cpu')

    def record(kind, payload):
        if args.out:
            with open(args.out, 'a') as f:
                f.write(json.dumps(dict(kind=kind, **payload)) + '\n')

    name = torch.cuda.get_device_name() if args.device.startswith('cuda') else 'cpu'
    kind, peak = peak_tflops(name) if name != 'cpu' else (None, None)
    n_images = sum(len(f) for _, _, f in os.walk(osp.join(args.data, 'train')))
    print(f'SoCo R50-FPN pretraining throughput, 3 views (224, 224, 112), K=4, device {name}, '
          f'{args.workers} DataLoader workers, {n_images} photos in {args.data} (repeated), '
          f'{args.steps} timed steps after {args.warmup} warm-up', flush=True)
    if peak:
        print(f'peak dense TFLOP/s of {kind} (vendor figures, not measured): '
              + ', '.join(f'{k} {v}' for k, v in peak.items()), flush=True)

    rows = settings(args)
    flops = {}
    if not args.no_flops:
        set_scope()
        for pooling in dict.fromkeys(r['pooling'] for r in rows):
            flops[pooling] = count_flops(args.data, pooling, args.device) / 1e9
            record('flops', dict(pooling=pooling, gflop_per_image=flops[pooling]))
            print(f'model FLOPs per image, one training step, pooling {pooling}: '
                  f'{flops[pooling]:.1f} GFLOP', flush=True)
    ceiling = None
    if not args.no_ceiling:
        c = pipeline_ceiling(args.data, max(r['batch'] for r in rows), args.workers,
                             args.ceiling_batches, warmup=2,
                             pin_memory=args.device.startswith('cuda'))
        ceiling = c['samples_s']
        record('ceiling', c)
        print(f"pipeline ceiling (DataLoader alone, {args.workers} workers, batch "
              f"{c['batch']}): {ceiling:.1f} samples/s", flush=True)

    print(f"{'batch':>5} {'prec':>5} {'pooling':>8} {'levers':>28} {'s/step':>7} "
          f"{'img/s':>8} {'wait':>6} {'model i/s':>9} {'peak MiB':>9} {'TFLOP/s':>7} "
          f"{'util':>6} {'binds':>8}", flush=True)
    longest = 40.0                     # a first guess for one row's wall time, start included
    for setting in rows:
        need = longest + (60 if 'compile' in setting['levers'] else 0)
        if args.deadline and time.time() + need > args.deadline:
            record('skipped', dict(setting, reason='deadline'))
            print(f"{setting['batch']:>5} {setting['precision']:>5} {setting['pooling']:>8} "
                  f"{'+'.join(setting['levers']) or '-':>28}  skipped: the time budget cannot "
                  f"hold another ~{need:.0f} s row", flush=True)
            continue
        t0 = time.time()
        try:
            row = run_subprocess(setting, args.timeout)
        except subprocess.TimeoutExpired:
            row = dict(setting, error=f'timed out after {args.timeout:.0f} s')
        row['wall_s'] = time.time() - t0
        if 'compile' not in setting['levers']:
            longest = max(longest, row['wall_s'])
        record('step', row)
        print(fmt_row(row, flops, ceiling, peak), flush=True)


if __name__ == '__main__':
    main()
