"""The transfer study: does SoCo's pretraining make a downstream model better than BYOL's or none?

Every arm (:mod:`mmsoco.study.arms`: ``soco``, ``byol``, ``scratch`` and, with ``--init``, the
``init*`` arms) is fine-tuned with the same config, schedule and seeds and evaluated on the same
val split.  The task decides the fine-tune model and the metric:

* detection (:mod:`mmsoco.study.det_study`): Faster R-CNN R50-FPN, COCO AP on a val json;
* segmentation (:mod:`mmsoco.study.seg_study`): FCN R50-D8 or Semantic FPN R50, mIoU.

An arm with a pretraining method runs: the pretraining collection (and, for SoCo, its
selective-search proposals) -> the method's pretraining (mmengine Runner) -> the method's
converter into the fine-tune model (checked against it) -> fine-tune -> evaluate.

Every step is a stage of :class:`~mmsoco.study.stages.StageBook`: a re-run keeps what finished,
a killed training stage resumes from its last checkpoint.  The study writes ``results.json``,
``results.md`` and ``loss_curves.png`` into its work dir (:mod:`mmsoco.study.report`), named
after the run (``results_<run>.md``) when it has a run name.
"""
import json
import os
import os.path as osp
import re
from dataclasses import asdict, dataclass, field
from typing import Callable, ClassVar, Dict, List, Optional

from .arms import (ARM_TABLE, METHODS, PretrainData, all_arms, default_arms, method,
                   starts_from_weights)
from .init_arms import InitArms
from .stages import StageBook, StageMismatchError

#: what a run name may hold (it is part of stage and file names)
RUN_NAME = re.compile(r'[A-Za-z0-9-]+')


@dataclass(kw_only=True)
class StudySettings:
    """What every study run depends on, whatever the task (see the task's settings class).

    Args:
        pretrain_images (list[str]): Unlabelled image folders (searched recursively).
        work_dir (str): Where every stage writes.
        arms (list[str]): Subset of :func:`~mmsoco.study.arms.all_arms` (default: every arm
            that does not start from ``init``, and those too when ``init`` is given).
        seeds (list[int]): Fine-tuning seeds (each arm is fine-tuned once per seed).
        pretrain_iters (int): Pretraining iterations (every method alike).
        pretrain_batch (int): Pretraining images per iteration.
        pretrain_size (int): View side: SoCo V1/V2 (V3 half of it), BYOL's crops. 224 = paper.
        finetune_iters (int): Fine-tuning iterations.
        finetune_batch (int): Fine-tuning images per iteration.
        depth (int): ResNet depth of every arm. 50 = the study; smaller only for quick tests.
        workers (int): Dataloader workers (and proposal workers).
        device (str): ``'cpu'`` or ``'cuda'``.
        amp (bool): Mixed precision in every training stage (CUDA only).
        pretrain_seed (int): Seed of every pretraining run.
        ckpt_interval (int, optional): Checkpoint interval of training stages (default 1/4 of
            the run), the granularity of resuming a killed stage.
        name (str, optional): A name for the labelled set (``--run-name``): it is part of the
            run name (:attr:`run_name`), so a second set can be studied in the same work dir
            and reuse the pretraining stages.
        cfg_options (dict): Extra config overrides (mmengine ``merge_from_dict`` form) per
            config: a pretraining method's name (``'soco'``, ``'byol'``, ...) or the task's
            (:attr:`task`: ``'det'``, ``'seg'``) for the fine-tune config of every arm.
        init (str, optional): An existing model (any layout ``init2soco.py`` reads) for the
            ``init*`` arms.
    """

    #: the task (its cfg_options key for the fine-tune config)
    task: ClassVar[str] = ''

    pretrain_images: List[str] = field(default_factory=list)
    work_dir: str
    arms: Optional[List[str]] = None
    seeds: List[int] = field(default_factory=lambda: [0])
    pretrain_iters: int = 1000
    pretrain_batch: int = 64
    pretrain_size: int = 224
    finetune_iters: int = 1000
    finetune_batch: int = 8
    depth: int = 50
    workers: int = 4
    device: str = 'cuda'
    amp: bool = False
    pretrain_seed: int = 0
    ckpt_interval: Optional[int] = None
    name: Optional[str] = None
    cfg_options: Dict[str, dict] = field(default_factory=dict)
    init: Optional[str] = None

    @property
    def run_name(self) -> Optional[str]:
        """The run's name: its fine-tune and evaluation stages and result files carry it."""
        return self.name

    def __post_init__(self):
        self.pretrain_images = [osp.abspath(p) for p in self.pretrain_images]
        self.work_dir = osp.abspath(self.work_dir)
        if self.arms is None:
            self.arms = default_arms(with_init=self.init is not None, task=self.task)
        unknown = [a for a in self.arms if a not in ARM_TABLE]
        if unknown or not self.arms:
            raise ValueError(f'arms must be chosen from {all_arms()}, got {self.arms}')
        other = [a for a in self.arms if self.task not in ARM_TABLE[a].tasks]
        if other:
            raise ValueError(f'the arms {other} serve --task {ARM_TABLE[other[0]].tasks[0]} '
                             f'only (they pretrain a segmentation decoder), not --task '
                             f'{self.task}')
        self.arms = [a for a in ARM_TABLE if a in self.arms]  # fixed order
        if self.init is not None:
            self.init = osp.abspath(self.init)
            if not osp.isfile(self.init):
                raise FileNotFoundError(f'--init checkpoint {self.init!r} does not exist')
        elif any(ARM_TABLE[a].init for a in self.arms):
            raise ValueError('the arms {} start from a model: give --init CKPT'.format(
                [a for a in self.arms if ARM_TABLE[a].init]))
        if not self.seeds:
            raise ValueError('give at least one fine-tuning seed')
        for key in ('pretrain_iters', 'pretrain_batch', 'pretrain_size', 'finetune_iters',
                    'finetune_batch'):
            if getattr(self, key) < 1:
                raise ValueError(f'{key} must be >= 1, got {getattr(self, key)}')
        if self.device not in ('cpu', 'cuda'):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {self.device!r}")
        if self.amp and self.device != 'cuda':
            raise ValueError('--amp needs --device cuda (mmengine AMP runs on GPUs)')
        if self.name is not None and not RUN_NAME.fullmatch(self.name):
            raise ValueError(f'--run-name may hold letters, digits and "-", got {self.name!r}')
        allowed = set(METHODS) | {self.task}
        unknown = set(self.cfg_options) - allowed
        if unknown:
            raise ValueError(f'cfg_options keys must be among {sorted(allowed)} (the '
                             f'{self.task} task), got {sorted(unknown)}')
        pretraining = [a for a in self.arms if method(a)]
        if pretraining and not self.pretrain_images:
            raise ValueError(f'the arms {pretraining} pretrain: give --pretrain-images')


class TransferStudy:
    """Runs the arms of a study stage by stage; a task subclass supplies the fine-tune side.

    What a task defines (:class:`~mmsoco.study.det_study.DetTransferStudy` and
    :class:`~mmsoco.study.seg_study.SegTransferStudy`):

    * :meth:`check_data` (before any stage), :meth:`read_classes`, :meth:`data_identity`;
    * :meth:`finetune_config`, :meth:`finetune_settings` (what the fine-tune depends on);
    * :meth:`build_model`, :attr:`model_kind`, :meth:`convert_soco`, :meth:`checkpoint_name`,
      :meth:`convert_stage`;
    * :meth:`parse_metrics`, :meth:`report_options`.

    Args:
        settings (StudySettings): The run (a task's settings).
        log (callable): Progress lines. Defaults to ``print``.
    """

    #: 'detector' or 'segmentor' (messages)
    model_kind = ''

    def __init__(self, settings: StudySettings, log: Callable[[str], None] = print) -> None:
        self.s = settings
        self.log = log
        self.work = settings.work_dir
        os.makedirs(self.work, exist_ok=True)
        self.book = StageBook(self.work, log)
        pretrain_dir = osp.join(self.work, 'data', 'pretrain')
        self.data = PretrainData(osp.join(pretrain_dir, 'images'),
                                 osp.join(pretrain_dir, 'images.txt'),
                                 osp.join(pretrain_dir, 'proposals.npz'))
        self.classes = self.read_classes()
        run = settings.run_name
        # fine-tuning and evaluation stages of a named run carry its name
        self.prefix = f'{run}_' if run else ''
        self.model_settings = dict(depth=settings.depth, device=settings.device,
                                   amp=settings.amp)
        self.init_arms = None
        if settings.init is not None:
            self.init_arms = InitArms(
                settings.init, self.work, settings.depth, self.book, self.pretrain_config,
                dict(self.model_settings, options=settings.cfg_options.get('soco')), log)

    # ------------------------------------------------------------------ the task's part
    def read_classes(self) -> List[str]:
        """The class names of the labelled set."""
        raise NotImplementedError

    def check_data(self) -> None:
        """Check the labelled set (every file it names) before any stage; log one line."""
        raise NotImplementedError

    def data_identity(self) -> dict:
        """What tells this run's labelled set and model apart from another run's (the run-name
        clash check)."""
        raise NotImplementedError

    def finetune_config(self, name: str, work_dir: str, seed: int = 0):
        """The fine-tune config every arm shares, with the task's ``cfg_options`` merged."""
        raise NotImplementedError

    def finetune_settings(self) -> dict:
        """What the fine-tune config depends on beyond the budget (data, sizes, overrides)."""
        raise NotImplementedError

    def build_model(self, cfg):
        """The fine-tune model of ``cfg`` (nothing loaded)."""
        raise NotImplementedError

    def convert_soco(self, src: str, dst: str, cfg) -> dict:
        """SoCo's checkpoint ``src`` as the fine-tune checkpoint ``dst`` (the task's converter)."""
        raise NotImplementedError

    def checkpoint_name(self, arm: str) -> str:
        """File name of the arm's converted checkpoint."""
        raise NotImplementedError

    def convert_stage(self, arm: str) -> str:
        """Name of the arm's conversion stage."""
        raise NotImplementedError

    @staticmethod
    def parse_metrics(metrics: Dict[str, float]) -> dict:
        """The report's metrics from the evaluator's results."""
        raise NotImplementedError

    def report_options(self) -> dict:
        """Task-specific arguments of :func:`~mmsoco.study.report.write_report`."""
        return {}

    # ------------------------------------------------------------------ settings per stage
    def _pretrain_settings(self, arm: str) -> dict:
        s = self.s
        out = dict(self.model_settings, images=s.pretrain_images, iters=s.pretrain_iters,
                   batch=s.pretrain_batch, size=s.pretrain_size, seed=s.pretrain_seed,
                   options=s.cfg_options.get(method(arm)))
        if ARM_TABLE[arm].init:
            out['init'] = self.init_arms.fingerprint
        return out

    def _finetune_settings(self, arm: str, seed: int) -> dict:
        s = self.s
        out = dict(self.model_settings, arm=arm, seed=seed, iters=s.finetune_iters,
                   batch=s.finetune_batch, **self.finetune_settings())
        if starts_from_weights(arm):
            out['pretrain'] = self._pretrain_settings(arm)
        return out

    # ------------------------------------------------------------------ stages
    def _check_run_name(self) -> None:
        """Refuse, before any stage, a run name that another task, model or labelled set of
        this work dir already uses (``<work_dir>/runs/<run>.json``)."""
        identity = dict(task=self.s.task, **self.data_identity())
        path = osp.join(self.work, 'runs', f'{self.s.run_name or "unnamed_det"}.json')
        if osp.isfile(path):
            with open(path) as f:
                before = json.load(f)
            if before != json.loads(json.dumps(identity)):
                differ = sorted(k for k in set(before) | set(identity)
                                if before.get(k) != identity.get(k))
                raise StageMismatchError(
                    f'run name {self.s.run_name!r} is taken in {self.work} by a run with another '
                    f'{", ".join(differ)}; give this one its own --run-name, or a fresh '
                    '--work-dir')
            return
        os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            json.dump(identity, f, indent=1)

    def _collection(self):
        from .collection import write_pretrain_list
        d = self.data
        return self.book.run('pretrain_images', dict(images=self.s.pretrain_images), lambda:
                             dict(write_pretrain_list(self.s.pretrain_images, d.image_root,
                                                      d.list_file, self.log),
                                  list_file=d.list_file))

    def _proposals(self):
        def run():
            from data_prep.generate_proposals import main as generate
            d = self.data
            code = generate([d.list_file, '--root', d.image_root, '--out', d.proposals,
                             '--workers', str(max(self.s.workers, 1)), '--no-progress'])
            if code:
                raise RuntimeError(f'data_prep.generate_proposals failed (exit {code}); its '
                                   'message is above')
            return dict(proposals=d.proposals)
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
        """The study's pretraining config of a :data:`~mmsoco.study.arms.METHODS` entry."""
        s = self.s
        cfg = METHODS[method_name].config(
            self.data, work_dir=work_dir, iters=s.pretrain_iters, batch=s.pretrain_batch,
            view_size=s.pretrain_size, depth=s.depth, workers=s.workers, seed=s.pretrain_seed,
            amp=s.amp, ckpt_interval=s.ckpt_interval)
        cfg.merge_from_dict(s.cfg_options.get(method_name) or {})
        return cfg

    def _pretrain(self, arm: str):
        if method(arm) is None:   # ``init``: no pretraining, the converted model itself
            return self.init_arms.start()
        work_dir = osp.join(self.work, 'pretrain', arm)

        def run():
            cfg = self.pretrain_config(method(arm), work_dir)
            start = self.init_arms.load_from(method(arm)) if ARM_TABLE[arm].init else None
            return dict(checkpoint=self._train_runner(cfg, start), work_dir=work_dir)
        return self.book.run(f'pretrain_{arm}', self._pretrain_settings(arm), run, work_dir)

    def _transfer(self, arm: str) -> Callable:
        if method(arm) is not None:
            return METHODS[method(arm)].transfer
        from .arms import transfer_backbone, transfer_soco
        return transfer_soco if self.init_arms.converts_as_soco() else transfer_backbone

    def _convert(self, arm: str, checkpoint: str):
        """The pretrained weights as a fine-tune checkpoint, checked against the model."""
        dst = osp.join(self.work, 'checkpoints', self.checkpoint_name(arm))

        def run():
            os.makedirs(osp.dirname(dst), exist_ok=True)
            cfg = self.finetune_config('convert', osp.join(self.work, 'checkpoints'))
            return dict(checkpoint=dst, **self._transfer(arm)(checkpoint, dst, cfg, self))
        return self.book.run(self.convert_stage(arm), self._pretrain_settings(arm), run)

    def _finetune(self, arm: str, seed: int, init: Optional[str]):
        name = f'{self.prefix}{arm}_seed{seed}'
        work_dir = osp.join(self.work, 'finetune', name)

        def run():
            cfg = self.finetune_config(f'finetune_{name}', work_dir, seed)
            return dict(checkpoint=self._train_runner(cfg, init), init=init, work_dir=work_dir)
        return self.book.run(f'finetune_{name}', self._finetune_settings(arm, seed), run,
                             work_dir)

    def _evaluate(self, arm: str, seed: int, checkpoint: str):
        name = f'{self.prefix}{arm}_seed{seed}'

        def run():
            from mmengine.runner import Runner

            from .configs import evaluation_config
            work_dir = osp.join(self.work, 'evaluate', name)
            train_cfg = self.finetune_config(f'finetune_{name}', work_dir, seed)
            cfg = evaluation_config(train_cfg, checkpoint, work_dir, f'evaluate_{name}')
            return self.parse_metrics(Runner.from_cfg(cfg).test())
        return self.book.run(f'evaluate_{name}', dict(self._finetune_settings(arm, seed),
                                                      checkpoint=checkpoint), run)

    # ------------------------------------------------------------------ the whole study
    def run(self) -> dict:
        """Check the data and the run name, run (or keep) every stage, write the report.

        Returns:
            dict: The content of ``results.json``.
        """
        from .report import write_report
        s = self.s
        self.check_data()
        self._check_run_name()
        init: Dict[str, Optional[str]] = {a: None for a in s.arms}
        pretrained = [a for a in s.arms if starts_from_weights(a)]
        methods = {method(a) for a in pretrained} - {None}
        if methods:
            self._collection()
        if any(METHODS[m].proposals for m in methods):
            self._proposals()
        for arm in pretrained:
            ckpt = self._pretrain(arm).outputs['checkpoint']
            init[arm] = self._convert(arm, ckpt).outputs['checkpoint']
        for arm in s.arms:
            for seed in s.seeds:
                ckpt = self._finetune(arm, seed, init[arm]).outputs['checkpoint']
                self._evaluate(arm, seed, ckpt)
        return write_report(self.work, asdict(s), s.arms, s.seeds, self.book.records,
                            self.log, s.run_name, **self.report_options())


def default_workers() -> int:
    """Dataloader workers: the cores, at most 8."""
    return max(1, min(8, os.cpu_count() or 1))


__all__ = ['StudySettings', 'TransferStudy', 'default_workers', 'RUN_NAME']
