"""The study's arms: what each one pretrains with, and how its weights reach the fine-tune model.

Two tables, read by every part of the study (stages, command line, report):

* :data:`METHODS`: a pretraining method -> :class:`Method` (its config, the converter that takes
  its checkpoint to the fine-tune model, whether it needs proposals);
* :data:`ARM_TABLE`: an arm -> :class:`Arm` (the method it pretrains with, if any, and whether it
  starts from ``--init``), in report order.

Adding a pretraining method, say ``plmoco``, is one entry in each (here, or from a plugin)::

    def plmoco_config(data: PretrainData, **budget) -> Config:
        # budget: work_dir, iters, batch, view_size, depth, workers, seed, amp, ckpt_interval
        cfg = Config.fromfile(osp.join(STUDY_CONFIGS, 'plmoco_..._study.py'))
        ...  # data.image_root, data.list_file (and data.proposals) into its dataset
        return cfg

    register_method(Method('plmoco', plmoco_config, transfer=transfer_backbone))
    register_arm(Arm('plmoco', method='plmoco'))

after which ``--arms plmoco`` and ``--plmoco-cfg-options`` exist, its stages are
``pretrain_plmoco`` and ``convert_plmoco``, and its row is in the report.  ``transfer`` is
:func:`transfer_backbone` (the online ``backbone.*``), :func:`transfer_soco` (SoCo's converters:
backbone, FPN and box head) or any ``callable(src, dst, finetune_cfg, study) -> dict``.
"""
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple


@dataclass(frozen=True)
class PretrainData:
    """The pretraining collection every method reads (:mod:`mmsoco.study.collection`).

    Attributes:
        image_root (str): Folder the list's paths are relative to.
        list_file (str): ``<path> 0`` lines, one per image.
        proposals (str): Selective-search proposals of the list (for methods that need them).
    """

    image_root: str
    list_file: str
    proposals: str


@dataclass(frozen=True)
class Method:
    """A pretraining method of the study.

    Args:
        name (str): The method (its ``--<name>-cfg-options`` and ``cfg_options`` key).
        config (callable): ``config(data: PretrainData, **budget) -> Config``: the Runner config
            of one pretraining run (budget keys: ``work_dir``, ``iters``, ``batch``,
            ``view_size``, ``depth``, ``workers``, ``seed``, ``amp``, ``ckpt_interval``).
        transfer (callable): ``transfer(src, dst, finetune_cfg, study) -> dict``: writes the
            fine-tune checkpoint ``dst`` from the pretraining checkpoint ``src``, checked against
            the model of ``finetune_cfg``; returns what the stage records.
        proposals (bool): Whether it reads selective-search proposals (the study makes them
            once for every method that does).
    """

    name: str
    config: Callable
    transfer: Callable
    proposals: bool = False


@dataclass(frozen=True)
class Arm:
    """One arm of the study.

    Args:
        name (str): The arm (``--arms``, stage names, report rows).
        method (str, optional): The :data:`METHODS` entry it pretrains with; None: no
            pretraining (``scratch``, ``init``).
        init (bool): Whether it starts from the ``--init`` model (``init*`` arms): without a
            method it is fine-tuned as it is, with one the method continues from it.
        tasks (tuple[str]): The tasks (``--task``) it serves. Defaults to both.
        default (bool): Whether a run that names no ``--arms`` has it. Defaults to True.
    """

    name: str
    method: Optional[str] = None
    init: bool = False
    tasks: Tuple[str, ...] = ('det', 'seg')
    default: bool = True


def transfer_backbone(src: str, dst: str, cfg, study) -> dict:
    """The online ``backbone.*`` of the checkpoint, checked against the fine-tune model."""
    from .weights import extract_backbone
    return extract_backbone(src, dst, study.build_model(cfg), study.model_kind)


def transfer_soco(src: str, dst: str, cfg, study) -> dict:
    """SoCo's converter of the task (``soco2mmdet`` or ``soco2mmseg``): backbone, and what else
    of SoCo's online network the fine-tune model has (FPN, box head)."""
    return study.convert_soco(src, dst, cfg)


def _soco_config(data: PretrainData, **budget):
    from .configs import soco_config
    return soco_config(data.image_root, data.list_file, data.proposals, **budget)


def _byol_config(data: PretrainData, **budget):
    from .configs import byol_config
    return byol_config(data.image_root, data.list_file, **budget)


def _dense_method(name: str) -> Method:
    """PLR, EDMoCo or PLEDMoCo (:mod:`mmsoco.study.dense_arms`): an encoder-decoder as the
    segmenter's; PLMoCo: a ResNet, its backbone transferred."""
    def config(data: PretrainData, **budget):
        from .dense_arms import dense_config
        return dense_config(name, data.image_root, data.list_file, **budget)

    def transfer(src: str, dst: str, cfg, study) -> dict:
        from .dense_arms import transfer_dense
        return transfer_dense(src, dst, cfg, study)
    return Method(name, config, transfer_backbone if name == 'plmoco' else transfer)


#: pretraining method -> :class:`Method`
METHODS: Dict[str, Method] = OrderedDict()
#: arm -> :class:`Arm`, in report order
ARM_TABLE: Dict[str, Arm] = OrderedDict()


def register_method(method: Method) -> Method:
    """Add a pretraining method (see the module docstring)."""
    if method.name in METHODS:
        raise ValueError(f'pretraining method {method.name!r} is registered already')
    METHODS[method.name] = method
    return method


def register_arm(arm: Arm) -> Arm:
    """Add an arm; its method must be registered.  ``init`` arms with a method continue from the
    ``--init`` model, which :mod:`mmsoco.study.init_arms` must know how to start
    (:data:`~mmsoco.study.init_arms.INIT_STARTS`)."""
    from .init_arms import INIT_STARTS
    if arm.name in ARM_TABLE:
        raise ValueError(f'arm {arm.name!r} is registered already')
    if arm.method is not None and arm.method not in METHODS:
        raise ValueError(f'arm {arm.name!r}: no pretraining method {arm.method!r} (register it)')
    if arm.init and arm.method is not None and arm.method not in INIT_STARTS:
        raise ValueError(f'arm {arm.name!r}: an --init model cannot start {arm.method!r} yet '
                         f'(known: {sorted(INIT_STARTS)})')
    ARM_TABLE[arm.name] = arm
    return arm


register_method(Method('soco', _soco_config, transfer_soco, proposals=True))
register_method(Method('byol', _byol_config, transfer_backbone))
register_method(_dense_method('plr'))
register_method(_dense_method('edmoco'))
register_method(_dense_method('plmoco'))
register_method(_dense_method('pledmoco'))
for _arm in (Arm('soco', 'soco'), Arm('byol', 'byol'), Arm('scratch'), Arm('init', init=True),
             Arm('init+soco', 'soco', init=True), Arm('init+byol', 'byol', init=True)):
    register_arm(_arm)
# the dense pretext arms pretrain a segmentation decoder: --task seg, named in --arms
for _name in ('plr', 'edmoco', 'plmoco', 'pledmoco'):
    register_arm(Arm(_name, _name, tasks=('seg', ), default=False))
    register_arm(Arm(f'init+{_name}', _name, init=True, tasks=('seg', ), default=False))


def all_arms() -> Tuple[str, ...]:
    """Every arm, in report order."""
    return tuple(ARM_TABLE)


def default_arms(with_init: bool = False, task: str = 'det') -> List[str]:
    """The arms of a ``task`` run that names none: every default arm of the task not starting
    from ``--init``, and with ``with_init`` the ``init*`` arms too."""
    return [a.name for a in ARM_TABLE.values()
            if a.default and task in a.tasks and (with_init or not a.init)]


def method(arm: str) -> Optional[str]:
    """The pretraining method of ``arm``; None for arms that do not pretrain."""
    return ARM_TABLE[arm].method


def starts_from_weights(arm: str) -> bool:
    """Whether ``arm`` fine-tunes from weights (pretrained, or ``--init``) rather than from
    scratch."""
    return ARM_TABLE[arm].method is not None or ARM_TABLE[arm].init


#: the arms at import (the study's own; :func:`all_arms` also has any registered later)
ARMS = tuple(default_arms())
INIT_ARMS = tuple(a for a in ARM_TABLE if ARM_TABLE[a].init and ARM_TABLE[a].default)
#: the arms of --task seg a run names itself (``--arms``)
SEG_ONLY_ARMS = tuple(a for a in ARM_TABLE if ARM_TABLE[a].tasks == ('seg', ))
ALL_ARMS = all_arms()

__all__ = ['PretrainData', 'Method', 'Arm', 'METHODS', 'ARM_TABLE', 'register_method',
           'register_arm', 'transfer_backbone', 'transfer_soco', 'all_arms', 'default_arms',
           'method', 'starts_from_weights', 'ARMS', 'INIT_ARMS', 'ALL_ARMS', 'SEG_ONLY_ARMS']
