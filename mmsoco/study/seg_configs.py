"""The segmentation fine-tune of the study: ``configs/study/*_seg-study.py`` with one run's data.

As :mod:`mmsoco.study.configs` does for detection: the config files hold the recipe (FCN R50-D8
or Semantic FPN R50, inheriting ``configs/segmentation``), and :func:`segmentation_config` sets
what differs from run to run: the image folder, classes, ignore index, iterations (and the poly
schedule that depends on them), batch, image scale, crop, workers, ResNet depth, seed, AMP.
"""
import os.path as osp
from typing import Optional, Sequence

from mmengine.config import Config

from .configs import RESNET_CHANNELS, STUDY_CONFIGS, _check_depth, _find_transforms, _runtime

#: the segmentation models the study fine-tunes, by ``--seg-model``
SEG_CONFIGS = {
    'fcn': osp.join(STUDY_CONFIGS, 'fcn_r50-d8_bn_1000i_seg-study.py'),
    'fpn': osp.join(STUDY_CONFIGS, 'fpn_r50_bn_1000i_seg-study.py'),
}


def set_ignore_index(cfg: Config, ignore_index: int) -> Config:
    """Make ``ignore_index`` the void value everywhere an mmseg config names one (in place).

    mmseg's recipes assume 255: the heads' loss, the data preprocessor's and ``Pad``'s label
    padding, ``RandomCrop``'s category-ratio check, the datasets and the ``IoUMetric``.  A set
    whose void is another value (CamVid: 11) must change them all, or padding writes a label the
    loss does not ignore.
    """
    cfg.model.data_preprocessor.seg_pad_val = ignore_index
    for head in (cfg.model.get('decode_head'), cfg.model.get('auxiliary_head')):
        for h in (head if isinstance(head, list) else [head]):
            if h:
                h.ignore_index = ignore_index
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if not cfg.get(loader):
            continue
        for crop_t in _find_transforms(cfg[loader], 'RandomCrop'):
            crop_t.ignore_index = ignore_index
        for pad in _find_transforms(cfg[loader], 'Pad'):
            pad.pad_val = dict(img=0, seg=ignore_index)  # mmcv's default: dict(img=0, seg=255)
    for key in ('val_evaluator', 'test_evaluator'):
        if cfg.get(key):
            cfg[key].ignore_index = ignore_index
    return cfg


def segmentation_config(data_root: str, classes: Sequence[str], ignore_index: int,
                        work_dir: str, name: str, iters: int, batch: int, model: str = 'fcn',
                        scale: int = 360, crop: int = 256, depth: int = 50, workers: int = 4,
                        seed: int = 0, amp: bool = False, img_suffix: str = '.png',
                        ckpt_interval: Optional[int] = None) -> Config:
    """The FCN or Semantic FPN fine-tune every arm shares.

    Args:
        data_root (str): Folder with ``train/``, ``trainannot/``, ``val/``, ``valannot/``,
            ``train.txt`` and ``val.txt`` (see :mod:`mmsoco.study.seg_data`).
        classes (Sequence[str]): Class names; mask value ``i`` is ``classes[i]``.
        ignore_index (int): Mask value that is no class (void): no loss, not scored.
        work_dir (str): The Runner's work dir.
        name (str): Experiment name (unique per run in one process).
        iters (int): Fine-tuning iterations (poly lr decay over them).
        batch (int): Images per iteration (lr auto-scaled from 0.01 per 16).
        model (str): ``'fcn'`` (FCN R50-D8) or ``'fpn'`` (Semantic FPN R50).
        scale (int): Shorter image side before the random rescale (x0.5-2.0) and at test time.
        crop (int): Side of the square training crops.
        depth (int): ResNet depth.
        workers (int): Dataloader workers.
        seed (int): Random seed.
        amp (bool): Mixed precision.
        img_suffix (str): Image file suffix (masks are ``.png``).
        ckpt_interval (int, optional): Checkpoint every this many iterations (default: 1/4).

    Returns:
        Config: no initial weights set (the study sets ``load_from`` per arm).
    """
    _check_depth(depth)
    if model not in SEG_CONFIGS:
        raise ValueError(f'seg model must be one of {sorted(SEG_CONFIGS)}, got {model!r}')
    cfg = Config.fromfile(SEG_CONFIGS[model])
    classes = tuple(classes)
    crop_size = (int(crop), int(crop))
    img_scale = (4 * int(scale), int(scale))  # mmseg's VOC (2048, 512): long side <= 4x short
    m = cfg.model
    m.backbone.depth = depth
    m.data_preprocessor.size = crop_size
    channels = RESNET_CHANNELS[depth]
    if model == 'fpn':
        m.neck.in_channels = channels
    else:
        m.decode_head.in_channels = channels[3]
        m.auxiliary_head.in_channels = channels[2]
    for head in (m.decode_head, m.get('auxiliary_head')):
        if head:
            head.num_classes = len(classes)
    for split, loader in (('train', 'train_dataloader'), ('val', 'val_dataloader'),
                          ('val', 'test_dataloader')):
        ds = cfg[loader].dataset
        ds.update(data_root=data_root, ann_file=f'{split}.txt', img_suffix=img_suffix,
                  data_prefix=dict(img_path=split, seg_map_path=f'{split}annot'),
                  metainfo=dict(classes=classes), ignore_index=ignore_index)
        for resize in _find_transforms(ds.pipeline, 'RandomResize') + \
                _find_transforms(ds.pipeline, 'Resize'):
            resize.scale = img_scale
        for crop_t in _find_transforms(ds.pipeline, 'RandomCrop'):
            crop_t.crop_size = crop_size
        cfg[loader].num_workers = workers
        cfg[loader].persistent_workers = workers > 0
    set_ignore_index(cfg, ignore_index)
    cfg.train_dataloader.batch_size = batch
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=iters)
    cfg.param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0,
                                end=max(iters, 1), by_epoch=False)]
    return _runtime(cfg, work_dir, name, iters, workers, seed, amp, ckpt_interval)
