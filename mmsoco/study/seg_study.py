"""The transfer study on semantic segmentation (``tools/transfer_study.py run --task seg``).

The arms and their pretraining are the detection study's (:mod:`mmsoco.study.arms`; a seg run in
the same work dir keeps its pretraining stages).  What differs:

* the labelled set is a folder of images and masks with a class list
  (:mod:`mmsoco.study.seg_data`), every mask checked before anything trains;
* each arm fine-tunes one MMSegmentation model (FCN R50-D8 or Semantic FPN R50,
  :mod:`mmsoco.study.seg_configs`): SoCo through ``soco2mmseg`` (backbone, and for Semantic FPN
  the FPN too), the other methods' (or an init model's) backbone, or nothing (scratch), each
  checked against the segmentor;
* mmseg's ``IoUMetric`` scores it: mIoU, mAcc and aAcc in percent, per seed and mean;
* the run is named after the task and model, ``seg-fcn`` or ``seg-fpn`` (``seg-fpn-<name>`` with
  ``--run-name``), so both models and several mask sets share one work dir
  (``results_seg-fpn.md`` ...).
"""
import os.path as osp
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List

from .study import StudySettings, TransferStudy

#: report column -> key of mmseg's IoUMetric results (already in percent)
SEG_METRICS = OrderedDict([('mIoU', 'mIoU'), ('mAcc', 'mAcc'), ('aAcc', 'aAcc')])
SEG_MODELS = {'fcn': 'FCN R{depth}-D8', 'fpn': 'Semantic FPN R{depth}'}


@dataclass(kw_only=True)
class SegStudySettings(StudySettings):
    """:class:`~mmsoco.study.study.StudySettings` for a segmentation folder.

    Args (besides :class:`~mmsoco.study.study.StudySettings`'):
        seg_data (str): The folder of images, masks and ``train.txt``/``val.txt``
            (``--seg-data``, layout in :mod:`mmsoco.study.seg_data`).
        classes (list[str]): Class names; mask value ``i`` is ``classes[i]``.
        ignore_index (int): Mask value that is no class (void). Defaults to 255.
        seg_model (str): ``'fcn'`` (FCN R50-D8) or ``'fpn'`` (Semantic FPN R50).
        seg_scale (int): Shorter image side (random rescale x0.5-2.0 around it in training).
        seg_crop (int): Side of the square training crops.
    """

    task = 'seg'

    seg_data: str
    classes: List[str] = field(default_factory=list)
    ignore_index: int = 255
    seg_model: str = 'fcn'
    seg_scale: int = 360
    seg_crop: int = 256

    @property
    def run_name(self) -> str:
        """``seg-<model>``, or ``seg-<model>-<name>``."""
        return f'seg-{self.seg_model}' + (f'-{self.name}' if self.name else '')

    def __post_init__(self):
        super().__post_init__()
        self.seg_data = osp.abspath(self.seg_data)
        if not osp.isdir(self.seg_data):
            raise FileNotFoundError(f'--seg-data {self.seg_data!r} is not a folder')
        if self.seg_model not in SEG_MODELS:
            raise ValueError(f'seg_model must be one of {sorted(SEG_MODELS)}, got '
                             f'{self.seg_model!r}')
        if not self.classes:
            raise ValueError('give the class list of the masks (--seg-classes)')
        if not 0 <= self.ignore_index <= 255 or self.ignore_index < len(self.classes):
            raise ValueError(f'ignore_index must be in {len(self.classes)}..255 (outside the '
                             f'{len(self.classes)} classes), got {self.ignore_index}')
        for key in ('seg_scale', 'seg_crop'):
            if getattr(self, key) < 16:
                raise ValueError(f'{key} must be >= 16, got {getattr(self, key)}')


class SegTransferStudy(TransferStudy):
    """:class:`~mmsoco.study.study.TransferStudy` with a segmentation fine-tune (see the module
    docstring)."""

    s: SegStudySettings
    model_kind = 'segmentor'

    def read_classes(self) -> List[str]:
        return list(self.s.classes)

    def check_data(self) -> None:
        """Read every listed image and mask (:func:`~mmsoco.study.seg_data.check_seg_folder`)."""
        from .seg_data import check_seg_folder
        s = self.s
        n = check_seg_folder(s.seg_data, len(self.classes), s.ignore_index)
        self.log(f'segmentation set {s.seg_data}: {n["train"]} train and {n["val"]} val '
                 f'images, masks checked ({len(self.classes)} classes, ignore index '
                 f'{s.ignore_index})')

    def data_identity(self) -> dict:
        s = self.s
        return dict(seg_data=s.seg_data, model=s.seg_model, classes=self.classes,
                    ignore_index=s.ignore_index)

    def finetune_settings(self) -> dict:
        s = self.s
        return dict(task='seg', seg_data=s.seg_data, model=s.seg_model, classes=self.classes,
                    ignore_index=s.ignore_index, scale=s.seg_scale, crop=s.seg_crop,
                    options=s.cfg_options.get('seg'))

    def finetune_config(self, name: str, work_dir: str, seed: int = 0):
        from .seg_configs import segmentation_config
        from .seg_data import image_suffix, read_names
        s = self.s
        suffix = image_suffix(s.seg_data, read_names(osp.join(s.seg_data, 'train.txt'))[0])
        cfg = segmentation_config(
            s.seg_data, self.classes, s.ignore_index, work_dir, name, s.finetune_iters,
            s.finetune_batch, s.seg_model, s.seg_scale, s.seg_crop, s.depth, s.workers, seed,
            s.amp, suffix, s.ckpt_interval)
        cfg.merge_from_dict(s.cfg_options.get('seg') or {})
        return cfg

    def build_model(self, cfg):
        from mmsoco.converters import build_segmentor
        return build_segmentor(cfg)

    def convert_soco(self, src: str, dst: str, cfg) -> dict:
        from mmsoco.converters.to_mmseg import convert_soco_checkpoint
        conv = convert_soco_checkpoint(src, dst, config=cfg)
        self.log(conv.summary())
        return dict(mapped=len(conv.mapped), left_out=len(conv.left_out), target=conv.target)

    def checkpoint_name(self, arm: str) -> str:
        return f'{arm}_r{self.s.depth}_mmseg-{self.s.seg_model}.pth'

    def convert_stage(self, arm: str) -> str:
        return f'convert_{arm}_mmseg-{self.s.seg_model}'

    @staticmethod
    def parse_metrics(metrics: Dict[str, float]) -> dict:
        """mIoU, mAcc and aAcc from mmseg's IoUMetric (see :func:`parse_seg_metrics`)."""
        return parse_seg_metrics(metrics)

    def report_options(self) -> dict:
        s = self.s
        model = SEG_MODELS[s.seg_model].format(depth=s.depth)
        return dict(metric_keys=tuple(SEG_METRICS), digits=2, model=model,
                    caption=f'{model} (BN), mIoU, mAcc and aAcc on the val masks (mmseg '
                    f'IoUMetric, percent; {len(self.classes)} classes, ignore index '
                    f'{s.ignore_index}).')


def parse_seg_metrics(metrics: Dict[str, float]) -> dict:
    """mIoU, mAcc, aAcc in percent from mmseg's ``IoUMetric`` results.

    Raises:
        RuntimeError: A key is missing (an unexpected metric layout).
    """
    missing = [v for v in SEG_METRICS.values() if v not in metrics]
    if missing:
        raise RuntimeError(f'IoUMetric returned {sorted(metrics)}: expected '
                           f'{list(SEG_METRICS.values())}')
    return {k: round(float(metrics[v]), 2) for k, v in SEG_METRICS.items()}


__all__ = ['SEG_METRICS', 'SegStudySettings', 'SegTransferStudy', 'parse_seg_metrics']
