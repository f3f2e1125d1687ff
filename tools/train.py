"""Pretrain SoCo with an mmengine Runner (thin wrapper; everything is in the config)."""
import argparse
import os
import os.path as osp
import sys

# before torch loads OpenMP: spinning worker threads slow CPU runs 10-25x on small, busy machines
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

from mmengine.config import Config, DictAction  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description='Pretrain SoCo')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from the given checkpoint, or from the latest one in the '
                        'work dir when no path is given')
    parser.add_argument('--amp', nargs='?', const='bf16', choices=['bf16', 'fp16'],
                        help='mixed precision (AmpOptimWrapper): bf16 (a bare --amp) or fp16 '
                        'with dynamic loss scaling')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. train_dataloader.batch_size=64')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--check', action='store_true',
                        help='check the config, the device and the data paths, then exit '
                        '(tools/dist_train.sh runs this before starting any process)')
    parser.add_argument('--plain-bn', action='store_true',
                        help='run SyncBN layers as per-process BN, as a distributed run on CPUs '
                        'needs (DEVICE=cpu tools/dist_train.sh passes it)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def load_config(path):
    """``Config.fromfile``, with one clear line instead of a traceback when it cannot."""
    if not osp.isfile(path):
        sys.exit(f'error: config file not found: {path} (run from the repository root, or give '
                 'the path of a file under configs/)')
    try:
        return Config.fromfile(path)
    except Exception as e:  # a parse error, a missing _base_, a name the file does not define
        reason = ' '.join(f'{type(e).__name__}: {e}'.split())
        sys.exit(f'error: cannot load config {path}: {reason}')


def main():
    args = parse_args()
    cfg = load_config(args.config)   # before the training stack: a bad config fails in a second
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    import torch

    from mmsoco.registry import check_default_scope
    if check_default_scope(cfg.get('default_scope')):   # an mmpretrain config on mmselfsup, ...
        sys.exit(f'error: {args.config}: {check_default_scope(cfg.get("default_scope"))}')
    from mmsoco.engine.amp import AmpUnavailableError, apply_amp
    try:
        apply_amp(cfg, args.amp)   # --amp sets it; a config's own AmpOptimWrapper is checked
    except AmpUnavailableError as e:
        sys.exit(f'error: {e}')
    from mmsoco.engine.preflight import PreflightError, preflight
    try:   # pooling vs data, SyncBN without a GPU, mmcv without CUDA ops, missing data: one line
        checked = preflight(cfg, args.config, distributed=args.launcher != 'none',
                            cuda_available=torch.cuda.is_available(), plain_bn=args.plain_bn)
    except PreflightError as e:
        sys.exit(f'error: {e}')
    if args.check:
        print(f'{args.config}: ' + '; '.join(checked))
        return
    from mmengine.runner import Runner

    import mmsoco  # noqa: F401  (registers SoCo into its host, mmselfsup or mmpretrain)
    from mmsoco.engine import setup_cpu_distributed, use_plain_bn

    cfg.launcher = args.launcher
    if args.plain_bn:
        use_plain_bn(cfg)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume

    setup_cpu_distributed(cfg)   # gloo when launched by torchrun on a machine without GPUs
    runner = Runner.from_cfg(cfg)
    try:
        runner.train()
    except (FileNotFoundError, ValueError) as e:
        # SoCoDataset's checks (data root, image folder, proposals file and whether it matches
        # the images) run when the dataloader is built, before the first iteration; their
        # messages name the path and the fix, which a traceback would only bury.
        if 'SoCoDataset' not in str(e):
            raise
        sys.exit(f'error: {e}')


if __name__ == '__main__':
    main()
