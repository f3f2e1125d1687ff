"""The transfer study: does SoCo's pretraining make a detector better than BYOL's or none?

Arms, all fine-tuned with the same Faster R-CNN R50-FPN (4conv1fc box head, BN) config, the same
schedule and the same seeds, and evaluated with mmdet's ``CocoMetric`` on the same val json:

* ``soco``: selective-search proposals (``data_prep.generate_proposals``) -> SoCo R50-FPN
  pretraining (``configs/study/soco_*``, mmengine Runner) -> ``soco2mmdet`` conversion (backbone,
  FPN and box head, checked against the detector) -> fine-tune -> evaluate;
* ``byol``: mmselfsup's BYOL (``configs/study/byol_*``) on the same images, iterations and batch
  -> its online backbone -> fine-tune -> evaluate;
* ``scratch``: random initialisation -> fine-tune -> evaluate;
* with ``--init CKPT``, ``init``, ``init+soco`` and ``init+byol``: an existing model fine-tuned as
  it is, or continued with SoCo or BYOL first (:mod:`mmsoco.study.init_arms`).

Every step is a stage of :class:`~mmsoco.study.stages.StageBook`: a re-run keeps what finished,
a killed training stage resumes from its last checkpoint.  The study writes ``results.json``,
``results.md`` and ``loss_curves.png`` into its work dir (:mod:`mmsoco.study.report`).
"""
import json
import os
import os.path as osp
import re
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional

from .init_arms import INIT_ARMS, InitArms, method
from .metrics import parse_metrics
from .stages import StageBook

ARMS = ('soco', 'byol', 'scratch')
#: every arm, in report order (the ``init*`` arms need ``init``)
ALL_ARMS = ARMS + INIT_ARMS


@dataclass
class StudySettings:
    """Everything a study run depends on.

    Args:
        pretrain_images (list[str]): Unlabelled image folders (searched recursively).
        train_json (str): COCO json of the labelled training split.
        val_json (str): COCO json of the evaluation split.
        img_root (str): Folder both jsons' ``file_name`` are relative to.
        work_dir (str): Where every stage writes.
        arms (list[str]): Subset of :data:`ALL_ARMS` (the ``init*`` arms need ``init``).
        seeds (list[int]): Fine-tuning seeds (each arm is fine-tuned once per seed).
        pretrain_iters (int): Pretraining iterations (SoCo and BYOL alike).
        pretrain_batch (int): Pretraining images per iteration.
        pretrain_size (int): View side: SoCo V1/V2 (V3 half of it), BYOL's crops. 224 = paper.
        finetune_iters (int): Fine-tuning iterations.
        finetune_batch (int): Fine-tuning images per iteration.
        det_scale (int): Shorter side of detection images (longer side <= 1333/800 of it).
        depth (int): ResNet depth of every arm. 50 = the study; smaller only for quick tests.
        workers (int): Dataloader workers (and proposal workers).
        device (str): ``'cpu'`` or ``'cuda'``.
        amp (bool): Mixed precision in every training stage (CUDA only).
        pretrain_seed (int): Seed of both pretraining runs.
        ckpt_interval (int, optional): Checkpoint interval of training stages (default 1/4 of
            the run), the granularity of resuming a killed stage.
        det_name (str, optional): A name for the labelled set.  With it, the fine-tuning and
            evaluation stages and the result files carry the name (``finetune_<name>_<arm>_...``,
            ``results_<name>.md``), so a second labelled set can be studied in the same work dir
            and reuse the pretraining stages.  Without it they carry none.
        cfg_options (dict): Extra config overrides (mmengine ``merge_from_dict`` form, e.g.
            ``{'model.train_cfg.rcnn.sampler.num': 32}``) per config: keys ``'soco'``,
            ``'byol'``, ``'det'`` (the detection config of every arm).
        init (str, optional): An existing model (any layout ``init2soco.py`` reads) for the
            ``init``, ``init+soco`` and ``init+byol`` arms.
    """

    pretrain_images: List[str]
    train_json: str
    val_json: str
    img_root: str
    work_dir: str
    arms: List[str] = field(default_factory=lambda: list(ARMS))
    seeds: List[int] = field(default_factory=lambda: [0])
    pretrain_iters: int = 1000
    pretrain_batch: int = 64
    pretrain_size: int = 224
    finetune_iters: int = 1000
    finetune_batch: int = 8
    det_scale: int = 512
    depth: int = 50
    workers: int = 4
    device: str = 'cuda'
    amp: bool = False
    pretrain_seed: int = 0
    ckpt_interval: Optional[int] = None
    det_name: Optional[str] = None
    cfg_options: Dict[str, dict] = field(default_factory=dict)
    init: Optional[str] = None

    def __post_init__(self):
        self.pretrain_images = [osp.abspath(p) for p in self.pretrain_images]
        for key in ('train_json', 'val_json', 'img_root', 'work_dir'):
            setattr(self, key, osp.abspath(getattr(self, key)))
        unknown = [a for a in self.arms if a not in ALL_ARMS]
        if unknown or not self.arms:
            raise ValueError(f'arms must be chosen from {ALL_ARMS}, got {self.arms}')
        self.arms = [a for a in ALL_ARMS if a in self.arms]  # fixed order
        if self.init is not None:
            self.init = osp.abspath(self.init)
            if not osp.isfile(self.init):
                raise FileNotFoundError(f'init checkpoint {self.init!r} does not exist')
        elif any(a in INIT_ARMS for a in self.arms):
            raise ValueError(f'the arms {INIT_ARMS} start from a model: give --init CKPT')
        if not self.seeds:
            raise ValueError('give at least one fine-tuning seed')
        for key in ('pretrain_iters', 'pretrain_batch', 'pretrain_size', 'finetune_iters',
                    'finetune_batch', 'det_scale'):
            if getattr(self, key) < 1:
                raise ValueError(f'{key} must be >= 1, got {getattr(self, key)}')
        if self.device not in ('cpu', 'cuda'):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {self.device!r}")
        if self.amp and self.device != 'cuda':
            raise ValueError('--amp needs --device cuda (mmengine AMP runs on GPUs)')
        for key in ('train_json', 'val_json'):
            if not osp.isfile(getattr(self, key)):
                raise FileNotFoundError(f'{key} {getattr(self, key)!r} does not exist')
        if not osp.isdir(self.img_root):
            raise FileNotFoundError(f'img_root {self.img_root!r} is not a folder')
        if self.det_name is not None and not re.fullmatch(r'[A-Za-z0-9-]+', self.det_name):
            raise ValueError(f'det_name may hold letters, digits and "-", got {self.det_name!r}')
        unknown = set(self.cfg_options) - {'soco', 'byol', 'det'}
        if unknown:
            raise ValueError(f"cfg_options keys must be 'soco', 'byol' or 'det', got {unknown}")
        if any(method(a) for a in self.arms) and not self.pretrain_images:
            raise ValueError('the soco, byol, init+soco and init+byol arms need pretraining '
                             'image folders')


class TransferStudy:
    """Runs the arms of a :class:`StudySettings` stage by stage.

    Args:
        settings (StudySettings): The run.
        log (callable): Progress lines. Defaults to ``print``.
    """

    def __init__(self, settings: StudySettings, log: Callable[[str], None] = print) -> None:
        self.s = settings
        self.log = log
        self.work = settings.work_dir
        os.makedirs(self.work, exist_ok=True)
        self.book = StageBook(self.work, log)
        self.pretrain_root = osp.join(self.work, 'data', 'pretrain', 'images')
        self.list_file = osp.join(self.work, 'data', 'pretrain', 'images.txt')
        self.proposals = osp.join(self.work, 'data', 'pretrain', 'proposals.npz')
        self.classes = self._read_classes()
        # fine-tuning and evaluation stages of a named labelled set carry its name
        self.prefix = f'{settings.det_name}_' if settings.det_name else ''
        self.init_arms = InitArms(self)

    def _read_classes(self) -> List[str]:
        """The class names of the labelled set (detection: the train json's categories)."""
        with open(self.s.train_json) as f:
            cats = json.load(f).get('categories') or []
        if not cats:
            raise ValueError(f'{self.s.train_json}: no categories')
        return [c['name'] for c in sorted(cats, key=lambda c: c['id'])]

    # ------------------------------------------------------------------ settings per stage
    def _common(self) -> dict:
        s = self.s
        return dict(depth=s.depth, device=s.device, amp=s.amp)

    def _pretrain_settings(self, arm: Optional[str] = None) -> dict:
        s = self.s
        return dict(self._common(), images=s.pretrain_images, iters=s.pretrain_iters,
                    batch=s.pretrain_batch, size=s.pretrain_size, seed=s.pretrain_seed,
                    options={k: s.cfg_options.get(k) for k in ('soco', 'byol')},
                    **self.init_arms.settings(arm))

    def _finetune_settings(self, arm: str, seed: int) -> dict:
        s = self.s
        out = dict(self._common(), arm=arm, seed=seed, train=s.train_json, val=s.val_json,
                   img_root=s.img_root, iters=s.finetune_iters, batch=s.finetune_batch,
                   scale=s.det_scale, options=s.cfg_options.get('det'))
        if arm != 'scratch':
            out['pretrain'] = self._pretrain_settings(arm)
        return out

    # ------------------------------------------------------------------ stages
    def _collection(self):
        from .collection import write_pretrain_list
        return self.book.run('pretrain_images', dict(images=self.s.pretrain_images), lambda:
                             dict(write_pretrain_list(self.s.pretrain_images, self.pretrain_root,
                                                      self.list_file, self.log),
                                  list_file=self.list_file))

    def _proposals(self):
        def run():
            from data_prep.generate_proposals import main as generate
            code = generate([self.list_file, '--root', self.pretrain_root, '--out',
                             self.proposals, '--workers', str(max(self.s.workers, 1)),
                             '--no-progress'])
            if code:
                raise RuntimeError(f'data_prep.generate_proposals failed (exit {code}); its '
                                   'message is above')
            return dict(proposals=self.proposals)
        return self.book.run('proposals', dict(images=self.s.pretrain_images), run)

    def _train_runner(self, cfg, init: Optional[str] = None):
        """Train with an mmengine Runner; resume from the work dir's last checkpoint if any."""
        from mmengine.runner import Runner
        from mmengine.runner.checkpoint import find_latest_checkpoint

        last = find_latest_checkpoint(cfg.work_dir) if osp.isdir(cfg.work_dir) else None
        if last is not None:
            self.log(f'  resuming from {last}')
            cfg.resume, cfg.load_from = True, last
        else:
            cfg.resume, cfg.load_from = False, init
        runner = Runner.from_cfg(cfg)
        runner.train()
        final = osp.join(cfg.work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')
        if not osp.isfile(final):
            raise RuntimeError(f'training finished without its last checkpoint {final}')
        return final

    def pretrain_config(self, method_name: str, work_dir: str):
        """The ``'soco'`` or ``'byol'`` pretraining config of this study."""
        from .configs import byol_config, soco_config
        s = self.s
        common = dict(work_dir=work_dir, iters=s.pretrain_iters, batch=s.pretrain_batch,
                      view_size=s.pretrain_size, depth=s.depth, workers=s.workers,
                      seed=s.pretrain_seed, amp=s.amp, ckpt_interval=s.ckpt_interval)
        if method_name == 'soco':
            cfg = soco_config(self.pretrain_root, self.list_file, self.proposals, **common)
        else:
            cfg = byol_config(self.pretrain_root, self.list_file, **common)
        cfg.merge_from_dict(s.cfg_options.get(method_name) or {})
        return cfg

    def _pretrain(self, arm: str):
        if arm == 'init':   # no pretraining: the converted model itself
            return self.init_arms.start()
        work_dir = osp.join(self.work, 'pretrain', arm)

        def run():
            cfg = self.pretrain_config(method(arm), work_dir)
            return dict(checkpoint=self._train_runner(cfg, self.init_arms.load_from(arm)),
                        work_dir=work_dir)
        return self.book.run(f'pretrain_{arm}', self._pretrain_settings(arm), run, work_dir)

    def _detection_cfg(self, name: str, work_dir: str, seed: int = 0):
        from .configs import detection_config
        s = self.s
        cfg = detection_config(s.train_json, s.val_json, s.img_root, self.classes, work_dir,
                               name, s.finetune_iters, s.finetune_batch, s.det_scale, s.depth,
                               s.workers, seed, s.amp, s.ckpt_interval)
        cfg.merge_from_dict(s.cfg_options.get('det') or {})
        return cfg

    def _convert(self, arm: str, checkpoint: str):
        """The pretrained weights as an mmdet checkpoint, checked against the detector."""
        dst = osp.join(self.work, 'checkpoints', f'{arm}_r{self.s.depth}_mmdet-faster-rcnn.pth')

        def run():
            os.makedirs(osp.dirname(dst), exist_ok=True)
            cfg = self._detection_cfg('convert', osp.join(self.work, 'checkpoints'))
            if self.init_arms.converts_as(arm) == 'soco':
                from mmsoco.converters import convert_soco_checkpoint
                conv = convert_soco_checkpoint(checkpoint, dst, config=cfg)
                self.log(conv.summary())
                return dict(checkpoint=dst, mapped=len(conv.mapped),
                            left_out=len(conv.left_out), layout=conv.layout.name)
            from mmsoco.converters import build_detector

            from .weights import extract_backbone
            return dict(checkpoint=dst,
                        **extract_backbone(checkpoint, dst, build_detector(cfg), 'detector'))
        return self.book.run(f'convert_{arm}', self._pretrain_settings(arm), run)

    def _finetune(self, arm: str, seed: int, init: Optional[str]):
        name = f'{self.prefix}{arm}_seed{seed}'
        work_dir = osp.join(self.work, 'finetune', name)

        def run():
            cfg = self._detection_cfg(f'finetune_{name}', work_dir, seed)
            return dict(checkpoint=self._train_runner(cfg, init), init=init, work_dir=work_dir)
        return self.book.run(f'finetune_{name}', self._finetune_settings(arm, seed), run,
                             work_dir)

    def _evaluate(self, arm: str, seed: int, checkpoint: str):
        name = f'{self.prefix}{arm}_seed{seed}'

        def run():
            from mmengine.runner import Runner

            from .configs import evaluation_config
            work_dir = osp.join(self.work, 'evaluate', name)
            train_cfg = self._detection_cfg(f'finetune_{name}', work_dir, seed)
            cfg = evaluation_config(train_cfg, checkpoint, work_dir, f'evaluate_{name}')
            return self._parse_metrics(Runner.from_cfg(cfg).test())
        return self.book.run(f'evaluate_{name}', dict(self._finetune_settings(arm, seed),
                                                      checkpoint=checkpoint), run)

    @staticmethod
    def _parse_metrics(metrics: Dict[str, float]) -> dict:
        """The report's metrics from the evaluator's results (COCO AP, AP50, AP75)."""
        return parse_metrics(metrics)

    # ------------------------------------------------------------------ the whole study
    def run(self) -> dict:
        """Run (or keep) every stage, then write the report.

        Returns:
            dict: The content of ``results.json``.
        """
        from .report import write_report
        s = self.s
        init: Dict[str, Optional[str]] = dict(scratch=None)
        pretrained = [a for a in s.arms if a != 'scratch']
        if any(method(a) for a in pretrained):
            self._collection()
        if any(method(a) == 'soco' for a in pretrained):
            self._proposals()
        for arm in pretrained:
            ckpt = self._pretrain(arm).outputs['checkpoint']
            init[arm] = self._convert(arm, ckpt).outputs['checkpoint']
        for arm in s.arms:
            for seed in s.seeds:
                ckpt = self._finetune(arm, seed, init[arm]).outputs['checkpoint']
                self._evaluate(arm, seed, ckpt)
        return write_report(self.work, asdict(s), s.arms, s.seeds, self.book.records,
                            self.log, s.det_name, **self.report_options())

    def report_options(self) -> dict:
        """Task-specific arguments of :func:`~mmsoco.study.report.write_report` (metrics,
        caption); detection uses its defaults."""
        return {}


def default_workers() -> int:
    """Dataloader workers: the cores, at most 8."""
    return max(1, min(8, os.cpu_count() or 1))


__all__ = ['ARMS', 'ALL_ARMS', 'StudySettings', 'TransferStudy', 'default_workers']
