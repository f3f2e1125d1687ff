"""The transfer study on object detection (``tools/transfer_study.py run``, ``--task det``).

Every arm fine-tunes the same Faster R-CNN R50-FPN (4conv1fc box head, BN,
``configs/study/faster-rcnn_*``, :func:`~mmsoco.study.configs.detection_config`) on a COCO json
and is scored by mmdet's ``CocoMetric`` on the val json (AP, AP50, AP75).  SoCo's checkpoints go
through ``soco2mmdet`` (backbone, FPN and box head), the others' backbone alone
(:mod:`mmsoco.study.arms`).
"""
import json
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List

from .metrics import parse_metrics
from .study import StudySettings, TransferStudy


@dataclass(kw_only=True)
class DetStudySettings(StudySettings):
    """:class:`~mmsoco.study.study.StudySettings` for a detection set.

    Args (besides :class:`~mmsoco.study.study.StudySettings`'):
        train_json (str): COCO json of the labelled training split (``--train-json``).
        val_json (str): COCO json of the evaluation split (``--val-json``).
        img_root (str): Folder both jsons' ``file_name`` are relative to (``--img-root``).
        det_scale (int): Shorter side of detection images (longer side <= 1333/800 of it).

    The run name is ``name`` (none: the stages and files carry no name).
    """

    task = 'det'

    train_json: str
    val_json: str
    img_root: str
    det_scale: int = 512

    def __post_init__(self):
        super().__post_init__()
        for key in ('train_json', 'val_json', 'img_root'):
            setattr(self, key, osp.abspath(getattr(self, key)))
        for key in ('train_json', 'val_json'):
            if not osp.isfile(getattr(self, key)):
                raise FileNotFoundError(f'--{key.replace("_", "-")} {getattr(self, key)!r} '
                                        'does not exist')
        if not osp.isdir(self.img_root):
            raise FileNotFoundError(f'--img-root {self.img_root!r} is not a folder')
        if self.det_scale < 1:
            raise ValueError(f'det_scale must be >= 1, got {self.det_scale}')


class DetTransferStudy(TransferStudy):
    """:class:`~mmsoco.study.study.TransferStudy` with a Faster R-CNN fine-tune."""

    s: DetStudySettings
    model_kind = 'detector'

    def read_classes(self) -> List[str]:
        """The train json's categories, in id order."""
        try:
            with open(self.s.train_json) as f:
                cats = json.load(f).get('categories') or []
        except (ValueError, AttributeError) as e:
            raise ValueError(f'--train-json {self.s.train_json}: not a COCO json ({e})') from None
        if not cats:
            raise ValueError(f'--train-json {self.s.train_json}: no categories')
        return [c['name'] for c in sorted(cats, key=lambda c: c['id'])]

    def check_data(self) -> None:
        from .det_data import check_coco_split
        s = self.s
        n = check_coco_split(s.train_json, s.val_json, s.img_root)
        self.log(f'detection set {s.img_root}: {n["train"]} train images ({n["boxes"]} boxes) '
                 f'and {n["val"]} val images, all found ({len(self.classes)} classes)')

    def data_identity(self) -> dict:
        s = self.s
        return dict(train=s.train_json, val=s.val_json, img_root=s.img_root)

    def finetune_settings(self) -> dict:
        s = self.s
        return dict(train=s.train_json, val=s.val_json, img_root=s.img_root, scale=s.det_scale,
                    options=s.cfg_options.get('det'))

    def finetune_config(self, name: str, work_dir: str, seed: int = 0):
        from .configs import detection_config
        s = self.s
        cfg = detection_config(s.train_json, s.val_json, s.img_root, self.classes, work_dir,
                               name, s.finetune_iters, s.finetune_batch, s.det_scale, s.depth,
                               s.workers, seed, s.amp, s.ckpt_interval)
        cfg.merge_from_dict(s.cfg_options.get('det') or {})
        return cfg

    def build_model(self, cfg):
        from mmsoco.converters import build_detector
        return build_detector(cfg)

    def convert_soco(self, src: str, dst: str, cfg) -> dict:
        from mmsoco.converters import convert_soco_checkpoint
        conv = convert_soco_checkpoint(src, dst, config=cfg)
        self.log(conv.summary())
        return dict(mapped=len(conv.mapped), left_out=len(conv.left_out),
                    layout=conv.layout.name)

    def checkpoint_name(self, arm: str) -> str:
        return f'{arm}_r{self.s.depth}_mmdet-faster-rcnn.pth'

    def convert_stage(self, arm: str) -> str:
        return f'convert_{arm}'

    @staticmethod
    def parse_metrics(metrics: Dict[str, float]) -> dict:
        """COCO AP, AP50, AP75 (see :func:`~mmsoco.study.metrics.parse_metrics`)."""
        return parse_metrics(metrics)


__all__ = ['DetStudySettings', 'DetTransferStudy']
