"""``tools/transfer_study.py run --task seg``: the segmentation arguments and their run.

    python tools/transfer_study.py run --task seg --pretrain-images DATA \\
        --seg-data DATA/camvid --ignore-index 11 --seg-classes Sky Building Pole \\
        Road Pavement Tree SignSymbol Fence Car Pedestrian Bicyclist \\
        --work-dir work_dirs/transfer_study/camvid
"""
import sys

from mmengine.config import DictAction

SEG_USAGE = 'run --task seg needs --seg-data DIR and --seg-classes NAME ... (or a file of names)'


def add_seg_arguments(p) -> None:
    """The ``run`` options of the segmentation task (ignored by ``--task det``)."""
    p.add_argument('--task', choices=('det', 'seg'), default='det',
                   help='det: Faster R-CNN on COCO jsons (default); seg: FCN or Semantic FPN on '
                   'a folder of images and masks')
    p.add_argument('--seg-data', default=None,
                   help='seg: folder with train/, trainannot/, val/, valannot/, train.txt, '
                   'val.txt (CamVid layout; masks: uint8 class index per pixel)')
    p.add_argument('--seg-classes', nargs='+', default=None,
                   help='seg: class names in mask-value order, or one file with a name a line')
    p.add_argument('--ignore-index', type=int, default=255,
                   help='seg: the mask value that is no class (void), e.g. 11 for CamVid')
    p.add_argument('--seg-model', choices=('fcn', 'fpn'), default='fcn',
                   help='seg: FCN R50-D8 (backbone from the arm) or Semantic FPN R50 (SoCo: '
                   'backbone and FPN)')
    p.add_argument('--seg-scale', type=int, default=360,
                   help='seg: shorter image side (training rescales it x0.5-2.0)')
    p.add_argument('--seg-crop', type=int, default=256, help='seg: training crop side')
    p.add_argument('--seg-cfg-options', nargs='+', action=DictAction, default={},
                   help='seg: override settings of the segmentation config of every arm, e.g. '
                   'model.decode_head.dropout_ratio=0')


def run_seg(args) -> int:
    """Build the settings from parsed ``run`` arguments and run the segmentation study."""
    from .seg_data import read_classes
    from .seg_study import SegStudySettings, SegTransferStudy
    from .stages import StageMismatchError
    from .study import ARMS, INIT_ARMS
    try:
        if not args.seg_data or not args.seg_classes:
            raise ValueError(SEG_USAGE)
        cfg_options = {k: getattr(args, f'{k}_cfg_options') for k in ('soco', 'byol', 'seg')
                       if getattr(args, f'{k}_cfg_options')}
        settings = SegStudySettings.from_folder(
            args.seg_data, pretrain_images=args.pretrain_images, work_dir=args.work_dir,
            arms=args.arms or list(ARMS) + (list(INIT_ARMS) if args.init else []),
            init=args.init, seeds=args.seeds, pretrain_iters=args.pretrain_iters,
            pretrain_batch=args.pretrain_batch, pretrain_size=args.pretrain_size,
            finetune_iters=args.finetune_iters, finetune_batch=args.finetune_batch,
            depth=args.depth, workers=args.workers, device=args.device, amp=args.amp,
            pretrain_seed=args.pretrain_seed, ckpt_interval=args.ckpt_interval,
            cfg_options=cfg_options, classes=read_classes(args.seg_classes),
            ignore_index=args.ignore_index, seg_model=args.seg_model,
            seg_scale=args.seg_scale, seg_crop=args.seg_crop)
        if args.device == 'cuda':
            import torch
            if not torch.cuda.is_available():
                raise ValueError('--device cuda, but torch sees no GPU (use --device cpu)')
        SegTransferStudy(settings).run()
    except (ValueError, FileNotFoundError, StageMismatchError) as e:
        print(f'transfer_study: error: {e}', file=sys.stderr)
        return 2
    return 0
