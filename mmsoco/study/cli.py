"""Command line of ``tools/transfer_study.py``: ``run`` (``--task det`` or ``seg``), ``split`` and
``toy-data``.

    # the labelled set: a fixed split written as COCO jsons (raccoon: 160 train / 40 val;
    # DATA holds the labelled sets, e.g. https://github.com/datitran/raccoon_dataset as raccoon/)
    python tools/transfer_study.py split voc DATA/raccoon --val 40 --seed 0 \\
        --out work_dirs/transfer_study/raccoon/data/det
    # the comparison: soco, byol and scratch arms, fine-tuned with the same settings and seeds
    python tools/transfer_study.py run --pretrain-images DATA \\
        --train-json work_dirs/transfer_study/raccoon/data/det/train.json \\
        --val-json work_dirs/transfer_study/raccoon/data/det/val.json \\
        --img-root DATA/raccoon/images --work-dir work_dirs/transfer_study/raccoon
    # did continued pretraining help? adds the arms init, init+soco and init+byol
    python tools/transfer_study.py run --init resnet50-11ad3fa6.pth ... (as above)
    # a real, tiny labelled set for a CPU toy run (photos bundled with scikit-image)
    python tools/transfer_study.py toy-data work_dirs/transfer_study/toy/data
    # semantic segmentation: FCN (or --seg-model fpn) on a folder of images and masks
    python tools/transfer_study.py run --task seg --pretrain-images DATA \\
        --seg-data DATA/camvid --ignore-index 11 --seg-classes Sky Building Pole \\
        Road Pavement Tree SignSymbol Fence Car Pedestrian Bicyclist \\
        --work-dir work_dirs/transfer_study/camvid
"""
import argparse
import json
import os
import sys

from mmengine.config import DictAction

from .arms import INIT_ARMS, METHODS, SEG_ONLY_ARMS, all_arms, default_arms
from .study import default_workers

SEG_USAGE = 'run --task seg needs --seg-data DIR and --seg-classes NAME ... (or a file of names)'
DET_USAGE = 'run (--task det) needs --train-json, --val-json and --img-root'


def _run_parser(sub):
    p = sub.add_parser('run', help='run the comparison (keeps stages finished earlier)')
    p.add_argument('--task', choices=('det', 'seg'), default='det',
                   help='det: Faster R-CNN on COCO jsons (default); seg: FCN or Semantic FPN on '
                   'a folder of images and masks')
    p.add_argument('--pretrain-images', nargs='+', default=[],
                   help='unlabelled image folders for pretraining (searched recursively)')
    p.add_argument('--work-dir', required=True, help='where every stage writes')
    p.add_argument('--run-name', '--det-name', dest='run_name', default=None,
                   help='name of the labelled set: its fine-tuning stages and result files '
                   'carry it, so another set can reuse the pretraining in the same work dir '
                   '(seg runs are named seg-<model>[-<name>])')
    p.add_argument('--arms', nargs='+', default=None, choices=all_arms(),
                   help=f'default: {" ".join(default_arms())}, and {" ".join(INIT_ARMS)} with '
                   f'--init; --task seg also takes {" ".join(SEG_ONLY_ARMS)} (dense pretext '
                   'tasks that pretrain the decoder, docs/dense_pretext.md)')
    p.add_argument('--init', default=None, metavar='CKPT',
                   help='an existing model (torchvision ResNet, mmselfsup/mmpretrain, mmsoco or '
                   'original SoCo checkpoint): adds the arms init (fine-tuned as it is), '
                   'init+soco and init+byol (continued on the pretraining images first)')
    p.add_argument('--seeds', nargs='+', type=int, default=[0], help='fine-tuning seeds')
    p.add_argument('--pretrain-iters', type=int, default=1000)
    p.add_argument('--pretrain-batch', type=int, default=64)
    p.add_argument('--pretrain-size', type=int, default=224,
                   help='view side: SoCo V1/V2 (V3 half), BYOL crops (224 = the paper)')
    p.add_argument('--finetune-iters', type=int, default=1000)
    p.add_argument('--finetune-batch', type=int, default=8)
    p.add_argument('--depth', type=int, default=50,
                   help='ResNet depth of every arm (50 = the study; 18 only for quick tests)')
    p.add_argument('--workers', type=int, default=default_workers(),
                   help='dataloader workers and proposal workers')
    p.add_argument('--device', choices=('cpu', 'cuda'), default='cuda')
    p.add_argument('--amp', action='store_true', help='mixed precision (CUDA)')
    p.add_argument('--pretrain-seed', type=int, default=0)
    p.add_argument('--ckpt-interval', type=int, default=None,
                   help='checkpoint interval of training stages (default: 1/4 of each run)')
    for name in METHODS:
        p.add_argument(f'--{name}-cfg-options', nargs='+', action=DictAction, default={},
                       help=f'override settings of the {name} pretraining config, e.g. '
                       'optim_wrapper.optimizer.lr=0.5')
    det = p.add_argument_group('--task det')
    det.add_argument('--train-json', help='COCO json of the training split')
    det.add_argument('--val-json', help='COCO json of the evaluation split')
    det.add_argument('--img-root', help='folder the jsons\' file_name are under')
    det.add_argument('--det-scale', type=int, default=512,
                     help='shorter side of detection images (longer <= 1333/800 of it)')
    det.add_argument('--det-cfg-options', nargs='+', action=DictAction, default={},
                     help='override settings of the detection config of every arm, e.g. '
                     'model.train_cfg.rcnn.sampler.num=128')
    seg = p.add_argument_group('--task seg')
    seg.add_argument('--seg-data', default=None,
                     help='folder with train/, trainannot/, val/, valannot/, train.txt, val.txt '
                     '(CamVid layout; masks: uint8 class index per pixel)')
    seg.add_argument('--seg-classes', nargs='+', default=None,
                     help='class names in mask-value order, or one file with a name a line')
    seg.add_argument('--ignore-index', type=int, default=255,
                     help='the mask value that is no class (void), e.g. 11 for CamVid')
    seg.add_argument('--seg-model', choices=('fcn', 'fpn'), default='fcn',
                     help='FCN R50-D8 (backbone from the arm) or Semantic FPN R50 (SoCo: '
                     'backbone and FPN)')
    seg.add_argument('--seg-scale', type=int, default=360,
                     help='shorter image side (training rescales it x0.5-2.0)')
    seg.add_argument('--seg-crop', type=int, default=256, help='training crop side')
    seg.add_argument('--seg-cfg-options', nargs='+', action=DictAction, default={},
                     help='override settings of the segmentation config of every arm, e.g. '
                     'model.decode_head.dropout_ratio=0')


def _split_parser(sub):
    p = sub.add_parser('split', help='write a fixed train/val split of a labelled set as COCO '
                       'jsons (reads it with data_prep.annotations)')
    p.add_argument('format', choices=('voc', 'yolo', 'coco'))
    p.add_argument('dataset', help='dataset folder (VOC: with annotations/ and images/)')
    p.add_argument('--out', required=True, help='output folder: train/val .json and .txt')
    p.add_argument('--val', type=int, default=None, help='images in val')
    p.add_argument('--seed', type=int, default=0, help='shuffle seed of the split')
    p.add_argument('--val-list', default=None,
                   help='use this list of val image names instead of drawing them')


def _toy_parser(sub):
    p = sub.add_parser('toy-data', help='write the toy labelled set (scikit-image photos with '
                       'hand-placed boxes, and their mirror images)')
    p.add_argument('out', help='output folder')
    p.add_argument('--max-side', type=int, default=160)
    p.add_argument('--val', type=int, default=4, help='images in val')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog='python tools/transfer_study.py',
        description='Transfer study: SoCo vs BYOL vs scratch pretraining for Faster R-CNN '
        'R50-FPN on a small detection set, or (run --task seg) for FCN / Semantic FPN on a '
        'folder of images and masks.')
    sub = parser.add_subparsers(dest='command', required=True)
    _run_parser(sub)
    _split_parser(sub)
    _toy_parser(sub)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.command == 'toy-data':
        from .datasets import write_toy_set
        print(json.dumps(write_toy_set(args.out, args.max_side, args.val), indent=1))
        return 0
    if args.command == 'split':
        from data_prep.annotations import load_dataset

        from .datasets import read_names, write_split
        try:
            dataset = load_dataset(args.dataset, args.format)
            val_names = read_names(args.val_list) if args.val_list else None
            if val_names is None and args.val is None:
                raise ValueError('give --val N (images in val) or --val-list FILE')
            out = write_split(dataset, args.out, args.val, args.seed, val_names)
        except (ValueError, OSError) as e:
            print(f'transfer_study split: error: {e}', file=sys.stderr)
            return 2
        for path, reason in dataset.skipped:
            print(f'skipped {path}: {reason}', file=sys.stderr)
        print(json.dumps(out, indent=1))
        return 0

    if args.device == 'cpu':
        # read by torch when CUDA is first used (after this): the run stays on the CPU
        os.environ['CUDA_VISIBLE_DEVICES'] = ''
    os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    from .stages import StageMismatchError
    try:
        study = make_study(settings_from_args(args))
        if args.device == 'cuda':
            import torch
            if not torch.cuda.is_available():
                raise ValueError('--device cuda, but torch sees no GPU (use --device cpu)')
        study.run()
    except (ValueError, FileNotFoundError, StageMismatchError) as e:
        print(f'transfer_study: error: {e}', file=sys.stderr)
        return 2
    return 0


def settings_from_args(args):
    """The run's settings (:class:`~mmsoco.study.det_study.DetStudySettings` or
    :class:`~mmsoco.study.seg_study.SegStudySettings`) from parsed ``run`` arguments.

    Raises:
        ValueError: An option the task needs is missing, or a setting is out of range.
    """
    # every --*-cfg-options given (the settings refuse one the task does not take)
    cfg_options = {key: getattr(args, f'{key}_cfg_options') for key in (*METHODS, 'det', 'seg')}
    common = dict(
        pretrain_images=args.pretrain_images, work_dir=args.work_dir, arms=args.arms,
        init=args.init, seeds=args.seeds, pretrain_iters=args.pretrain_iters,
        pretrain_batch=args.pretrain_batch, pretrain_size=args.pretrain_size,
        finetune_iters=args.finetune_iters, finetune_batch=args.finetune_batch,
        depth=args.depth, workers=args.workers, device=args.device, amp=args.amp,
        pretrain_seed=args.pretrain_seed, ckpt_interval=args.ckpt_interval,
        name=args.run_name,
        cfg_options={key: value for key, value in cfg_options.items() if value})
    if args.task == 'seg':
        from .seg_data import read_classes
        from .seg_study import SegStudySettings
        if not args.seg_data or not args.seg_classes:
            raise ValueError(SEG_USAGE)
        return SegStudySettings(
            seg_data=args.seg_data, classes=read_classes(args.seg_classes),
            ignore_index=args.ignore_index, seg_model=args.seg_model,
            seg_scale=args.seg_scale, seg_crop=args.seg_crop, **common)
    from .det_study import DetStudySettings
    if not (args.train_json and args.val_json and args.img_root):
        raise ValueError(DET_USAGE)
    return DetStudySettings(train_json=args.train_json, val_json=args.val_json,
                            img_root=args.img_root, det_scale=args.det_scale, **common)


def make_study(settings, log=print):
    """The study of the settings' task."""
    from .det_study import DetTransferStudy
    from .seg_study import SegTransferStudy
    return {'det': DetTransferStudy, 'seg': SegTransferStudy}[settings.task](settings, log)
