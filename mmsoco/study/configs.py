"""The study's Runner configs: ``configs/study/*.py`` with one run's data, budgets and sizes.

The config files hold the recipes (they inherit SoCo's, mmselfsup's BYOL and mmdet's Faster R-CNN
configs and override only what the study changes).  The functions here set what differs from run
to run: paths, iterations (and the schedule that depends on them), batch size, image sizes,
workers, ResNet depth, seed, AMP.
"""
import copy
import os.path as osp
from typing import Optional, Sequence

from mmengine.config import Config

_PKG = osp.dirname(osp.dirname(osp.abspath(__file__)))
# an installed mmsoco carries the configs in mmsoco/.mim; a checkout has them beside mmsoco/
STUDY_CONFIGS = next((d for d in (osp.join(_PKG, '.mim', 'configs', 'study'),
                                  osp.join(osp.dirname(_PKG), 'configs', 'study'))
                      if osp.isdir(d)), osp.join(osp.dirname(_PKG), 'configs', 'study'))
SOCO_CONFIG = osp.join(STUDY_CONFIGS, 'soco_resnet50-fpn_1xb64-coslr-1500i_study.py')
BYOL_CONFIG = osp.join(STUDY_CONFIGS, 'byol_resnet50_1xb64-coslr-1500i_study.py')
DET_CONFIG = osp.join(STUDY_CONFIGS, 'faster-rcnn_r50_fpn_4conv1fc-bn_1000i_study.py')

#: ResNet stage widths (C2..C5) by depth
RESNET_CHANNELS = {18: [64, 128, 256, 512], 34: [64, 128, 256, 512],
                   50: [256, 512, 1024, 2048], 101: [256, 512, 1024, 2048]}


def _check_depth(depth: int) -> None:
    if depth not in RESNET_CHANNELS:
        raise ValueError(f'ResNet depth must be one of {sorted(RESNET_CHANNELS)}, got {depth}')


def _runtime(cfg: Config, work_dir: str, name: str, iters: int, workers: int, seed: int,
             amp: bool, ckpt_interval: Optional[int] = None) -> Config:
    """Settings every training run of the study shares."""
    cfg.work_dir = work_dir
    cfg.experiment_name = name
    # one visualizer per run: mmengine keeps visualizers by name, and a second Runner in the
    # same process would get the first one's (and write its scalars into that run's folder);
    # without a name the Runner names it after the run (experiment name + timestamp)
    cfg.visualizer.pop('name', None)
    cfg.randomness = dict(seed=seed)
    cfg.launcher = 'none'
    cfg.train_dataloader.num_workers = workers
    cfg.train_dataloader.persistent_workers = workers > 0
    cfg.default_hooks.logger.interval = max(1, min(20, iters // 50))
    cfg.default_hooks.checkpoint.update(by_epoch=False, max_keep_ckpts=1, save_last=True,
                                        interval=ckpt_interval or max(1, iters // 4))
    if amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    return cfg


def _warmup_cosine(cfg: Config, iters: int, warmup_ratio: float = 0.1) -> None:
    """Linear warm-up over ``warmup_ratio`` of ``iters``, then cosine (as the config files)."""
    warmup = max(1, int(round(iters * warmup_ratio)))
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters)
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=1e-4, by_epoch=False, begin=0, end=warmup),
        dict(type='CosineAnnealingLR', T_max=max(iters - warmup, 1), by_epoch=False,
             begin=warmup, end=max(iters, warmup + 1)),
    ]


def _find_transforms(pipeline, type_name):
    """Every transform dict of ``type_name`` in a (nested) pipeline."""
    found = []
    if isinstance(pipeline, dict):
        if pipeline.get('type') == type_name:
            found.append(pipeline)
        for value in pipeline.values():
            found += _find_transforms(value, type_name)
    elif isinstance(pipeline, (list, tuple)):
        for value in pipeline:
            found += _find_transforms(value, type_name)
    return found


def soco_config(image_root: str, list_file: str, proposals_file: str, work_dir: str,
                iters: int, batch: int, view_size: int = 224, depth: int = 50,
                workers: int = 4, seed: int = 0, amp: bool = False,
                ckpt_interval: Optional[int] = None) -> Config:
    """SoCo R50-FPN pretraining on the study's collection.

    Args:
        image_root (str): Folder the list's paths are relative to.
        list_file (str): ``<path> 0`` lines (see :mod:`mmsoco.study.collection`).
        proposals_file (str): Output of ``data_prep.generate_proposals`` for that list.
        work_dir (str): The Runner's work dir.
        iters (int): Training iterations.
        batch (int): Images per iteration (lr auto-scaled from 1.0 per 256).
        view_size (int): V1 and V2 side; V3 is half of it. Defaults to 224 (the paper).
        depth (int): ResNet depth (50 = the paper; smaller only for quick tests).
        workers (int): Dataloader workers.
        seed (int): Random seed.
        amp (bool): Mixed precision.
        ckpt_interval (int, optional): Checkpoint every this many iterations (default: 1/4).

    Returns:
        Config
    """
    _check_depth(depth)
    cfg = Config.fromfile(SOCO_CONFIG)
    ds = cfg.train_dataloader.dataset
    ds.update(data_root=image_root, ann_file=list_file, proposals_file=proposals_file,
              data_prefix=dict(img_path=''))
    cfg.train_dataloader.batch_size = batch
    for views in _find_transforms(ds.pipeline, 'SoCoViews'):
        for spec in views.views:   # the paper's sizes for 224: 224 -> view_size, 112 -> half
            spec.size = max(spec.size * view_size // 224, 16)
    cfg.model.backbone.depth = depth
    cfg.model.neck.in_channels = RESNET_CHANNELS[depth]
    _warmup_cosine(cfg, iters)
    return _runtime(cfg, work_dir, 'pretrain_soco', iters, workers, seed, amp, ckpt_interval)


def byol_config(image_root: str, list_file: str, work_dir: str, iters: int, batch: int,
                view_size: int = 224, depth: int = 50, workers: int = 4, seed: int = 0,
                amp: bool = False, ckpt_interval: Optional[int] = None) -> Config:
    """mmselfsup's BYOL on the same list, iterations and batch (arguments as :func:`soco_config`).

    ``view_size`` is the side of BYOL's two random-resized crops (224 in BYOL).
    """
    _check_depth(depth)
    cfg = Config.fromfile(BYOL_CONFIG)
    ds = cfg.train_dataloader.dataset
    ds.update(data_root=image_root, ann_file=list_file, data_prefix='')
    cfg.train_dataloader.batch_size = batch
    for crop in _find_transforms(ds.pipeline, 'RandomResizedCrop'):
        crop.size = view_size
    cfg.model.backbone.depth = depth
    cfg.model.neck.in_channels = RESNET_CHANNELS[depth][-1]
    _warmup_cosine(cfg, iters)
    return _runtime(cfg, work_dir, 'pretrain_byol', iters, workers, seed, amp, ckpt_interval)


def detection_config(train_json: str, val_json: str, img_root: str, classes: Sequence[str],
                     work_dir: str, name: str, iters: int, batch: int, scale: int = 512,
                     depth: int = 50, workers: int = 4, seed: int = 0, amp: bool = False,
                     ckpt_interval: Optional[int] = None) -> Config:
    """The Faster R-CNN R50-FPN (4conv1fc, BN) fine-tune every arm shares.

    Args:
        train_json (str): COCO json of the training split.
        val_json (str): COCO json of the evaluation split.
        img_root (str): Folder the jsons' ``file_name`` are relative to.
        classes (Sequence[str]): Category names, in the jsons' category id order.
        work_dir (str): The Runner's work dir.
        name (str): Experiment name (unique per run in one process).
        iters (int): Fine-tuning iterations (warm-up over 1/10, lr x0.1 at 2/3 and 8/9).
        batch (int): Images per iteration (lr auto-scaled from 0.02 per 16).
        scale (int): Shorter image side; the longer one is capped at ``scale * 1333 / 800``.
        depth (int): ResNet depth.
        workers (int): Dataloader workers.
        seed (int): Random seed (initialisation of fresh layers, data order, augmentation).
        amp (bool): Mixed precision.
        ckpt_interval (int, optional): Checkpoint every this many iterations (default: 1/4).

    Returns:
        Config: no initial weights set (see :func:`mmsoco.study.study.TransferStudy`).
    """
    _check_depth(depth)
    cfg = Config.fromfile(DET_CONFIG)
    classes = tuple(classes)
    cfg.model.roi_head.bbox_head.num_classes = len(classes)
    cfg.model.backbone.depth = depth
    cfg.model.neck.in_channels = RESNET_CHANNELS[depth]
    img_scale = (int(round(scale * 1333 / 800)), int(scale))
    for key, ann in (('train_dataloader', train_json), ('val_dataloader', val_json),
                     ('test_dataloader', val_json)):
        ds = cfg[key].dataset
        ds.update(data_root='', ann_file=ann, data_prefix=dict(img=osp.join(img_root, '')),
                  metainfo=dict(classes=classes))
        for resize in _find_transforms(ds.pipeline, 'Resize'):
            resize.scale = img_scale
        cfg[key].num_workers = workers
        cfg[key].persistent_workers = workers > 0
    for key in ('val_evaluator', 'test_evaluator'):
        cfg[key].ann_file = val_json
    cfg.train_dataloader.batch_size = batch
    warmup = max(1, min(500, iters // 10))
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=iters)
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=warmup),
        dict(type='MultiStepLR', begin=0, end=max(iters, 1), by_epoch=False,
             milestones=[iters * 2 // 3, iters * 8 // 9], gamma=0.1),
    ]
    return _runtime(cfg, work_dir, name, iters, workers, seed, amp, ckpt_interval)


def evaluation_config(train_cfg: Config, checkpoint: str, work_dir: str, name: str) -> Config:
    """A test-only copy of a fine-tuning config that loads ``checkpoint``."""
    cfg = copy.deepcopy(train_cfg)
    for key in ('train_dataloader', 'train_cfg', 'optim_wrapper', 'param_scheduler',
                'val_dataloader', 'val_cfg', 'val_evaluator'):
        cfg[key] = None
    cfg.load_from = checkpoint
    cfg.resume = False
    cfg.work_dir = work_dir
    cfg.experiment_name = name
    return cfg
