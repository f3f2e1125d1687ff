"""The transfer study on semantic segmentation (``tools/transfer_study.py run --task seg``).

The arms and their pretraining are the detection study's (:mod:`mmsoco.study.study`: soco, byol,
scratch, and with ``--init`` the init arms; a seg run in the same work dir keeps its pretraining
stages).  What differs:

* the labelled set is a folder of images and masks with a class list
  (:mod:`mmsoco.study.seg_data`), every mask checked before anything trains;
* each arm fine-tunes one MMSegmentation model (FCN R50-D8 or Semantic FPN R50,
  :mod:`mmsoco.study.seg_configs`): SoCo through ``soco2mmseg`` (backbone, and for Semantic FPN
  the FPN too), BYOL's (or an init model's) backbone, or nothing (scratch), each checked
  against the segmentor;
* mmseg's ``IoUMetric`` scores it: mIoU, mAcc and aAcc in percent, per seed and mean, in the
  same report and loss-curve files as detection (``results_seg.md`` ...).
"""
import os
import os.path as osp
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from .study import StudySettings, TransferStudy

#: report column -> key of mmseg's IoUMetric results (already in percent)
SEG_METRICS = OrderedDict([('mIoU', 'mIoU'), ('mAcc', 'mAcc'), ('aAcc', 'aAcc')])
SEG_MODELS = {'fcn': 'FCN R{depth}-D8', 'fpn': 'Semantic FPN R{depth}'}


@dataclass
class SegStudySettings(StudySettings):
    """:class:`StudySettings` for a segmentation folder.

    Build it with :meth:`from_folder`: ``train_json``/``val_json`` hold the folder's
    ``train.txt``/``val.txt`` and ``img_root`` the folder itself (the shared checks then cover
    them), ``det_name`` names the stages (``seg`` or ``seg-<name>``).

    Args (besides :class:`StudySettings`'):
        classes (list[str]): Class names; mask value ``i`` is ``classes[i]``.
        ignore_index (int): Mask value that is no class (void). Defaults to 255.
        seg_model (str): ``'fcn'`` (FCN R50-D8) or ``'fpn'`` (Semantic FPN R50).
        seg_scale (int): Shorter image side (random rescale x0.5-2.0 around it in training).
        seg_crop (int): Side of the square training crops.
    """

    classes: List[str] = field(default_factory=list)
    ignore_index: int = 255
    seg_model: str = 'fcn'
    seg_scale: int = 360
    seg_crop: int = 256

    @classmethod
    def from_folder(cls, seg_data: str, name: Optional[str] = None, **kwargs):
        """Settings for the folder ``seg_data``; ``name`` tells two folders apart in one work
        dir (letters, digits, ``-``)."""
        return cls(train_json=osp.join(seg_data, 'train.txt'),
                   val_json=osp.join(seg_data, 'val.txt'), img_root=seg_data,
                   det_name=f'seg-{name}' if name else 'seg', **kwargs)

    def __post_init__(self):
        seg_options = self.cfg_options.pop('seg', None)
        super().__post_init__()
        if seg_options:
            self.cfg_options['seg'] = seg_options
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
        if 'det' in self.cfg_options:
            raise ValueError("cfg_options: the segmentation task takes 'seg' (the fine-tuning "
                             "config of every arm), not 'det'")


class SegTransferStudy(TransferStudy):
    """:class:`TransferStudy` with a segmentation fine-tune (see the module docstring)."""

    s: SegStudySettings

    def _read_classes(self) -> List[str]:
        return list(self.s.classes)

    def _finetune_settings(self, arm: str, seed: int) -> dict:
        s = self.s
        out = super()._finetune_settings(arm, seed)
        out.update(task='seg', model=s.seg_model, classes=self.classes,
                   ignore_index=s.ignore_index, scale=s.seg_scale, crop=s.seg_crop,
                   options=s.cfg_options.get('seg'))
        return out

    def _detection_cfg(self, name: str, work_dir: str, seed: int = 0):
        """The segmentation config every arm fine-tunes (the detection study's hook)."""
        from .seg_configs import segmentation_config
        s = self.s
        cfg = segmentation_config(
            s.img_root, self.classes, s.ignore_index, work_dir, name, s.finetune_iters,
            s.finetune_batch, s.seg_model, s.seg_scale, s.seg_crop, s.depth, s.workers, seed,
            s.amp, self.data['img_suffix'], s.ckpt_interval)
        cfg.merge_from_dict(s.cfg_options.get('seg') or {})
        return cfg

    def _convert(self, arm: str, checkpoint: str):
        """The pretrained weights as an mmseg checkpoint, checked against the segmentor."""
        s = self.s
        dst = osp.join(self.work, 'checkpoints', f'{arm}_r{s.depth}_mmseg-{s.seg_model}.pth')

        def run():
            os.makedirs(osp.dirname(dst), exist_ok=True)
            cfg = self._detection_cfg('convert', osp.join(self.work, 'checkpoints'))
            if self.init_arms.converts_as(arm) == 'soco':  # soco, init+soco (init of SoCo)
                from mmsoco.converters.to_mmseg import convert_soco_checkpoint
                conv = convert_soco_checkpoint(checkpoint, dst, config=cfg)
                self.log(conv.summary())
                return dict(checkpoint=dst, mapped=len(conv.mapped),
                            left_out=len(conv.left_out), target=conv.target)
            from mmsoco.converters.to_mmseg import build_segmentor

            from .weights import extract_backbone
            return dict(checkpoint=dst,
                        **extract_backbone(checkpoint, dst, build_segmentor(cfg), 'segmentor'))
        return self.book.run(f'convert_{arm}_mmseg-{s.seg_model}', self._pretrain_settings(arm),
                             run)

    @staticmethod
    def _parse_metrics(metrics: Dict[str, float]) -> dict:
        """mIoU, mAcc and aAcc from mmseg's IoUMetric (see :func:`parse_seg_metrics`)."""
        return parse_seg_metrics(metrics)

    def report_options(self) -> dict:
        s = self.s
        model = SEG_MODELS[s.seg_model].format(depth=s.depth)
        return dict(metric_keys=tuple(SEG_METRICS), digits=2, model=model,
                    caption=f'{model} (BN), mIoU, mAcc and aAcc on the val masks (mmseg '
                    f'IoUMetric, percent; {len(self.classes)} classes, ignore index '
                    f'{s.ignore_index}).')

    def run(self) -> dict:
        """Check every mask, then run the study (see :meth:`TransferStudy.run`)."""
        from .seg_data import check_seg_folder
        s = self.s
        self.data = check_seg_folder(s.img_root, len(self.classes), s.ignore_index)
        self.log(f'segmentation set {s.img_root}: {self.data["train"]} train and '
                 f'{self.data["val"]} val images, masks checked ({len(self.classes)} classes, '
                 f'ignore index {s.ignore_index})')
        return super().run()


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
