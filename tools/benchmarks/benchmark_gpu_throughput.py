"""Pretraining throughput of SoCo R50-FPN from the real data path, on a GPU (or a CPU, small).

Every step is a real training step: a batch from ``SoCoDataset`` (JPEG decode, K=4 proposals,
V1/V2/V3 at 224/224/112, flips, box jitter, BYOL colour augmentations) through a DataLoader with
N workers (pinned memory, persistent workers, an infinite sampler), set up as training sets it
up (the shipped config's ``env_cfg`` through mmengine's ``set_multi_processing``: one OpenCV
thread per worker, the fork start method; mmengine's seeded ``worker_init_fn``), the model's data
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
- the pipeline's own ceiling: samples/s of the same DataLoader with no model, in all and per
  worker (every worker's start-up and first prefetched batches outside the timed window), and
  which of the two binds;
- with ``--peers``, right after the first row and at its batch and precision: torchvision's
  ResNet-50 (supervised, channels_last, SGD) and mmselfsup's BYOL ResNet-50 (from its own
  config), each images/s and TFLOP/s (``benchmark_peers.py``), then SoCo's TFLOP/s as a ratio
  to the ResNet-50 row's;
- with ``--profile FILE`` instead: ``torch.profiler`` over one step of the first row, the top
  15 GPU kernels by time (ATen operators on a CPU) as a table.

Precisions: ``fp32`` (strict, TF32 off), ``tf32`` (fp32 weights, TF32 matmuls/convs), ``bf16`` and
``fp16`` (``AmpOptimWrapper``; fp16 with dynamic loss scaling, see ``mmsoco/engine/amp.py``).
Poolings: ``single`` (each box from its level) and ``original`` (every level, the original code;
older mmsoco called it ``all``).  Levers, each on/off, each a config switch of training:
``foreach_lars`` (``ForeachLARS``: mmselfsup's LARS without a host sync per parameter),
``compile`` and ``channels_last`` (``StepSpeedHook``: ``torch.compile`` / channels_last of the
backbones and FPNs, online and target), ``tv_roi_align`` (torchvision's RoIAlign kernel,
``roi_layer.use_torchvision``; with ``fp32_pooling=False`` fp16 levels are pooled in fp16, bf16
ones still in fp32: no RoIAlign kernel has bf16),
``cudnn_benchmark`` (``env_cfg.cudnn_benchmark``), ``non_blocking`` (host to device copies),
``sgd`` (plain SGD instead of LARS), ``pageable`` (DataLoader without pinned memory).

    # data: real photos + their selective-search proposals (computed once, cached); any photo
    # folders, e.g. COCO train2017 images (https://cocodataset.org) and the raccoon photos
    # (https://github.com/datitran/raccoon_dataset)
    python tools/benchmarks/benchmark_gpu_throughput.py --prepare-data work_dirs/gpu_data \\
        --photos DIR [DIR ...]
    # GPU: the matrix (batches 64, 128 x tf32/bf16/fp16 x single/original), then each lever
    python tools/benchmarks/benchmark_gpu_throughput.py --data work_dirs/gpu_data --workers 14 \\
        --lever-sweep --out results.jsonl
    # GPU: SoCo, then ResNet-50 and BYOL in the same run; the kernel profile
    python tools/benchmarks/benchmark_gpu_throughput.py --data work_dirs/gpu_data --workers 14 \\
        --row 128 bf16 single --peers resnet50 byol
    python tools/benchmarks/benchmark_gpu_throughput.py --data work_dirs/gpu_data --workers 14 \\
        --row 128 bf16 single --profile profile.txt
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

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(HERE))
if HERE not in sys.path:              # benchmark_peers next to this file, also when imported
    sys.path.insert(0, HERE)

from benchmark_peers import PEERS  # noqa: E402

#: Vendor peak dense tensor throughput in TFLOP/s (NVIDIA datasheets; the "with sparsity"
#: figures halved).  Vendor figures, not measured here; fp32 is the non-tensor-core peak.
PEAK_TFLOPS = {
    'H100 SXM': dict(bf16=989.4, fp16=989.4, tf32=494.7, fp32=66.9),
    'H100 PCIe': dict(bf16=756.0, fp16=756.0, tf32=378.0, fp32=51.2),
    'H100 NVL': dict(bf16=835.5, fp16=835.5, tf32=417.5, fp32=60.0),
    'H200': dict(bf16=989.4, fp16=989.4, tf32=494.7, fp32=66.9),
}
PRECISIONS = ('fp32', 'tf32', 'bf16', 'fp16')
#: in the order of the sweep (gpu_benchmark.sh's LEVER_ROWS): the ones not yet measured first
LEVERS = ('foreach_lars', 'compile', 'tv_roi_align', 'channels_last', 'cudnn_benchmark',
          'non_blocking', 'sgd', 'pageable')
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


#: the pretraining config whose ``env_cfg`` the benchmark's processes take, as training does
TRAINING_CONFIG = 'configs/soco/soco_resnet50-fpn_16xb128-coslr-100e_in1k.py'


def training_env(config: str = TRAINING_CONFIG) -> dict:
    """Set up this process as mmengine's ``Runner.setup_env`` does for training ``config``.

    mmengine's own ``set_multi_processing`` with the config's ``env_cfg.mp_cfg``: the start method
    of the DataLoader workers and OpenCV's thread count (``opencv_num_threads=0`` in the shipped
    configs: OpenCV single-threaded in the main process and in every forked worker).  Without
    it, each worker's OpenCV may start a thread per core.  Returns the ``mp_cfg`` applied.
    """
    from mmengine.config import Config
    from mmengine.utils.dl_utils import set_multi_processing
    env_cfg = Config.fromfile(osp.join(REPO, config)).get('env_cfg', {})
    mp_cfg = dict(env_cfg.get('mp_cfg', {}))
    set_multi_processing(**mp_cfg, distributed=False)
    return mp_cfg


def build_loader(data: str, batch: int, workers: int, pin_memory: bool, seed: int = 0,
                 dataset=None):
    """The training DataLoader of the shipped recipe over ``data`` (an infinite sampler), built
    as a Runner builds it for training: :func:`training_env`, then ``Runner.build_dataloader``
    (which seeds every worker with mmengine's ``worker_init_fn``).

    Args:
        dataset (Dataset or dict, optional): Replaces the ``SoCoDataset`` over ``data``.
    """
    from mmengine.runner import Runner

    from mmsoco.datasets.recipes import soco_train_pipeline
    set_scope()
    training_env()
    if dataset is None:
        dataset = dict(type='SoCoDataset', data_root=data, proposals_file='proposals.npz',
                       data_prefix=dict(img_path='train/'),
                       pipeline=soco_train_pipeline(num_views=3))
    return Runner.build_dataloader(
        dict(batch_size=batch, num_workers=workers, pin_memory=pin_memory,
             persistent_workers=workers > 0,
             sampler=dict(type='InfiniteSampler', shuffle=True),
             collate_fn=dict(type='default_collate'), dataset=dataset),
        seed=seed)


def loader_throughput(loader, batch: int, workers: int, batches: int, warmup: int = 0) -> dict:
    """Samples/s of a DataLoader in steady state, in all and per worker.

    The warm-up takes at least every worker's first prefetched batches (``prefetch_factor``
    each), so worker start-up and the batches prepared during it stay outside the timed window,
    which then holds at least as many batches again.
    """
    prefetch = (loader.prefetch_factor or 2) if workers else 0
    warmup = max(warmup, workers * prefetch)
    batches = max(batches, workers * prefetch)
    it = iter(loader)
    for _ in range(warmup):
        next(it)
    t0 = time.perf_counter()
    for _ in range(batches):
        next(it)
    dt = time.perf_counter() - t0
    rate = batch * batches / dt
    return dict(batch=batch, workers=workers, warmup_batches=warmup, timed_batches=batches,
                samples_s=rate, samples_s_per_worker=rate / max(workers, 1))


def pipeline_ceiling(data: str, batch: int, workers: int, batches: int, warmup: int,
                     pin_memory: bool) -> dict:
    """Samples/s of the DataLoader alone (decode, proposals, views, augmentations, collate)."""
    loader = build_loader(data, batch, workers, pin_memory)
    return loader_throughput(loader, batch, workers, batches, warmup)


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


def build_model(pooling: str, device: str, tiny: bool = False, levers=()):
    from mmsoco.registry import MODELS
    from mmsoco.testing import model_cfg
    set_scope()
    cfg = model_cfg('fpn', tiny=tiny)           # the shipped R50-FPN config, SyncBN -> BN
    cfg.roi_pooling = resolve_pooling(pooling)
    if 'tv_roi_align' in levers:                # torchvision's RoIAlign; fp16 pooled in fp16
        cfg.roi_extractor.roi_layer.use_torchvision = True
        cfg.roi_extractor.fp32_pooling = False
    model = MODELS.build(cfg)
    model.init_weights()
    return model.to(device)


def optim_wrapper_cfg(batch: int, precision: str, sgd: bool = False,
                      foreach_lars: bool = False) -> dict:
    """The shipped LARS optim wrapper (lr scaled to the batch), AMP for bf16/fp16; plain SGD
    (``sgd``) or ``ForeachLARS``, mmselfsup's LARS without host syncs (``foreach_lars``)."""
    from mmengine.config import Config

    from mmsoco.engine.amp import amp_optim_wrapper
    cfg = Config.fromfile(osp.join(REPO, 'configs/_base_/schedules/lars_coslr_100e.py'))
    wrapper = cfg.optim_wrapper.to_dict()
    wrapper['optimizer']['lr'] = 1.0 * batch / 256
    if foreach_lars:
        wrapper['optimizer']['type'] = 'ForeachLARS'
    if sgd:
        wrapper['optimizer'] = dict(type='SGD', lr=0.05 * batch / 256, momentum=0.9,
                                    weight_decay=1e-5)
    if precision in ('bf16', 'fp16'):
        wrapper = amp_optim_wrapper(wrapper, precision)
    return wrapper


def apply_levers(model, levers) -> None:
    """channels_last and torch.compile of backbone and FPN (``StepSpeedHook``'s switches)."""
    from mmsoco.models.utils.step_speed import apply_step_speed
    apply_step_speed(model, channels_last='channels_last' in levers,
                     compile='compile' in levers)


def prepare(setting: dict):
    """Model, optim wrapper, batch iterator and device sync of one setting."""
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
    model = build_model(setting['pooling'], device, setting.get('tiny', False), levers)
    if 'non_blocking' in levers:
        model.data_preprocessor._non_blocking = True
    apply_levers(model, levers)
    model.train()
    optim_wrapper = build_optim_wrapper(
        model, optim_wrapper_cfg(setting['batch'], precision, 'sgd' in levers,
                                 'foreach_lars' in levers))
    loader = build_loader(setting['data'], setting['batch'], setting['workers'],
                          pin_memory=cuda and 'pageable' not in levers)
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    return model, optim_wrapper, iter(loader), sync


def train_step(model, optim_wrapper, data) -> dict:
    """One training step and the Runner's per-step ``.item()`` of every logged value."""
    log_vars = model.train_step(data, optim_wrapper)
    return {k: v.item() for k, v in log_vars.items()}


def run_setting(setting: dict) -> dict:
    """Train ``warmup + steps`` steps of one setting; time, memory and data wait of the last."""
    import torch
    if setting.get('peer'):
        from benchmark_peers import run_peer
        return run_peer(setting)
    if setting.get('profile'):
        from benchmark_profile import profile_setting
        return profile_setting(setting)
    device, precision = setting['device'], setting['precision']
    cuda = device.startswith('cuda')
    model, optim_wrapper, it, sync = prepare(setting)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    waits, totals, losses = [], [], []
    for step in range(setting['warmup'] + setting['steps']):
        t0 = time.perf_counter()
        data = next(it)
        t1 = time.perf_counter()
        logged = train_step(model, optim_wrapper, data)
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


def count_flops(data: str, pooling: str, device: str, batch: int = 2,
                tiny: bool = False) -> float:
    """Model FLOPs per image of one full training step (torch's FLOP counter)."""
    import torch
    from mmengine.optim import build_optim_wrapper
    from torch.utils.flop_counter import FlopCounterMode

    torch.manual_seed(0)
    model = build_model(pooling, device, tiny).train()
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
    if getattr(args, 'tiny', False):
        common['tiny'] = True
        for r in rows:
            r['tiny'] = True
    # the peers right after the first row, at its batch and precision: the comparison is kept
    # first when a time budget drops rows
    peers = [dict(common, batch=rows[0]['batch'], precision=rows[0]['precision'], peer=name,
                  size=getattr(args, 'peer_size', 224), pooling='-', levers=[])
             for name in getattr(args, 'peers', None) or []]
    rows[1:1] = peers
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
        key = (r.get('peer'), r['batch'], r['precision'], r['pooling'],
               tuple(sorted(r['levers'])))
        if key not in seen:
            seen.add(key)
            unique.append(r)
    return unique


def fmt_row(r: dict, flops: dict, ceiling: float, peak) -> str:
    levers = '+'.join(r['levers']) or '-'
    head = f"{r['batch']:>5} {r['precision']:>5} {r['pooling']:>8} {levers:>28}"
    if r.get('peer'):
        head = f"{r['batch']:>5} {r['precision']:>5} {'peer':>8} {r['peer']:>28}"
    if 'error' in r:
        return f"{head}  FAILED: {r['error']}"
    if r.get('peer'):
        tflops = r['tflops']
        util = f"{100 * tflops / peak[r['precision']]:5.1f}%" if peak else '    -'
        return (f"{head} {r['s_step']:>7.3f} {r['img_s']:>8.1f} {'-':>6} {'-':>9} {'-':>9} "
                f"{tflops:>7.3g} {util} {'-':>8}  ({r['gflop_per_image']:.1f} GFLOP/image)")
    gflop = flops.get(r['pooling'])
    tflops = gflop * r['img_s'] / 1e3 if gflop else None
    r['tflops'] = tflops
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
    parser.add_argument('--peers', nargs='*', choices=PEERS, metavar='PEER',
                        help=f'peer rows after the first row, at its batch and precision: '
                        f'{", ".join(PEERS)} (all when given without names)')
    parser.add_argument('--peer-size', type=int, default=224,
                        help='image side of the peer rows (small on a CPU)')
    parser.add_argument('--profile', metavar='FILE',
                        help='instead of the rows: torch.profiler over one step of the first '
                        'row, after its warm-up; the top 15 kernels by time, a table in FILE')
    parser.add_argument('--tiny', action='store_true',
                        help='SoCo with ResNet-18 widths (tests of the benchmark on a CPU)')
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

    if args.peers == []:
        args.peers = list(PEERS)
    rows = settings(args)
    if args.profile:
        first = next(r for r in rows if not r.get('peer'))
        prof = run_subprocess(dict(first, profile=osp.abspath(args.profile)), args.timeout)
        record('profile', prof)
        print(prof.get('table', f"profile FAILED: {prof.get('error')}"), flush=True)
        return
    flops = {}
    if not args.no_flops:
        set_scope()
        for pooling in dict.fromkeys(r['pooling'] for r in rows if not r.get('peer')):
            flops[pooling] = count_flops(args.data, pooling, args.device,
                                         tiny=args.tiny) / 1e9
            record('flops', dict(pooling=pooling, gflop_per_image=flops[pooling]))
            print(f'model FLOPs per image, one training step, pooling {pooling}: '
                  f'{flops[pooling]:.1f} GFLOP', flush=True)
    ceiling = None
    if not args.no_ceiling:
        c = pipeline_ceiling(args.data, max(r['batch'] for r in rows if not r.get('peer')),
                             args.workers,
                             args.ceiling_batches, warmup=2,
                             pin_memory=args.device.startswith('cuda'))
        ceiling = c['samples_s']
        record('ceiling', c)
        print(f"pipeline ceiling (DataLoader alone, {args.workers} workers, batch "
              f"{c['batch']}, {c['timed_batches']} batches after {c['warmup_batches']} "
              f"warm-up): {ceiling:.1f} samples/s, {c['samples_s_per_worker']:.1f} per worker",
              flush=True)

    print(f"{'batch':>5} {'prec':>5} {'pooling':>8} {'levers':>28} {'s/step':>7} "
          f"{'img/s':>8} {'wait':>6} {'model i/s':>9} {'peak MiB':>9} {'TFLOP/s':>7} "
          f"{'util':>6} {'binds':>8}", flush=True)
    longest = 40.0                     # a first guess for one row's wall time, start included
    done = []
    for setting in rows:
        need = longest + (60 if 'compile' in setting['levers'] else 0)
        if args.deadline and time.time() + need > args.deadline:
            record('skipped', dict(setting, reason='deadline'))
            label = setting.get('peer') or '+'.join(setting['levers']) or '-'
            print(f"{setting['batch']:>5} {setting['precision']:>5} {setting['pooling']:>8} "
                  f"{label:>28}  skipped: the time budget cannot hold another ~{need:.0f} s "
                  f"row", flush=True)
            continue
        t0 = time.time()
        try:
            row = run_subprocess(setting, args.timeout)
        except subprocess.TimeoutExpired:
            row = dict(setting, error=f'timed out after {args.timeout:.0f} s')
        row['wall_s'] = time.time() - t0
        if 'compile' not in setting['levers'] and not setting.get('peer'):
            longest = max(longest, row['wall_s'])
        record('peer' if setting.get('peer') else 'step', row)
        print(fmt_row(row, flops, ceiling, peak), flush=True)
        done.append(row)
    for line in peer_ratios(done):
        record('ratio', dict(line=line))
        print(line, flush=True)


def peer_ratios(rows) -> list:
    """SoCo's TFLOP/s as a ratio to the ResNet-50 row of the same batch and precision."""
    peers = {(r['batch'], r['precision']): r for r in rows
             if r.get('peer') == 'resnet50' and r.get('tflops')}
    out = []
    for r in rows:
        ref = peers.get((r['batch'], r['precision']))
        if r.get('peer') or not r.get('tflops') or ref is None:
            continue
        levers = '+'.join(r['levers']) or 'no lever'
        out.append(f"SoCo {r['batch']} {r['precision']} {r['pooling']} ({levers}): "
                   f"{r['tflops']:.3g} TFLOP/s = {r['tflops'] / ref['tflops']:.2f} x the "
                   f"ResNet-50 row ({ref['tflops']:.3g} TFLOP/s, {ref['img_s']:.1f} images/s)")
    return out


if __name__ == '__main__':
    main()
