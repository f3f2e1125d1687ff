"""Build the model of a config under its library's scope: one helper for every converter.

The converters check converted tensors against the model a config builds: an MMDetection
detector (``soco2mmdet.py --config``), an MMSegmentation segmentor (``soco2mmseg.py --config``),
a SoCo model or any other mmselfsup algorithm (``original2soco.py``, ``init2soco.py``, the
study's BYOL arm).  Each library registers its modules in its own registry and resolves
``type='FPN'`` through the default scope, so the model is built from that library's ``MODELS``
under :meth:`~mmengine.registry.DefaultScope.overwrite_default_scope`.  Nothing is loaded or
downloaded: the weights are the model's initial ones.
"""
import copy
from importlib import import_module

import torch

#: ``scope -> module whose register_all_modules registers the scope's modules``.  The host's
#: modules (mmselfsup's or mmpretrain's, with mmsoco's registered into them) come with
#: ``import mmsoco`` (:mod:`mmsoco.registry`).
SCOPES = {'mmdet': 'mmdet.utils', 'mmseg': 'mmseg.utils', 'mmselfsup': None, 'mmpretrain': None}


class ConfigHostError(ValueError):
    """A pretraining config of the other host than this process's (:mod:`mmsoco.registry`)."""


def _load_config(path: str, scope: str):
    """``Config.fromfile``; a pretraining config of the other host is one :class:`ConfigHostError`
    (its ``custom_imports`` would import the host this process refuses)."""
    from mmengine.config import Config
    from mmengine.utils import import_modules_from_strings
    if SCOPES[scope] is not None:
        return Config.fromfile(path)
    from mmsoco.registry import check_default_scope
    cfg = Config.fromfile(path, import_custom_modules=False)
    reason = check_default_scope(cfg.get('default_scope'))
    if reason:
        raise ConfigHostError(f'{path}: {reason}')
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg.custom_imports)
    return cfg


def build_model_from_cfg(cfg, scope: str) -> torch.nn.Module:
    """Build ``cfg.model`` with the ``MODELS`` registry of ``scope``.

    Args:
        cfg (str or Config or dict): A config (path or loaded) with a ``model`` dict.
        scope (str): One of :data:`SCOPES`: ``'mmdet'``, ``'mmseg'``, or the host of this
            process, ``'mmselfsup'`` or ``'mmpretrain'`` (SoCo, BYOL and the other pretraining
            algorithms).

    Returns:
        nn.Module: The model, weights as initialised by its constructor.
    """
    from mmengine.registry import DefaultScope

    if scope not in SCOPES:
        raise ValueError(f'scope must be one of {tuple(SCOPES)}, got {scope!r}')
    if isinstance(cfg, str):
        cfg = _load_config(cfg, scope)
    if SCOPES[scope] is None:
        import_module('mmsoco')   # registers SoCo and its parts into the host's registries
    else:
        import_module(SCOPES[scope]).register_all_modules(init_default_scope=False)
    models = import_module(f'{scope}.registry').MODELS
    with DefaultScope.overwrite_default_scope(scope):
        return models.build(copy.deepcopy(cfg['model']))


def build_detector(cfg) -> torch.nn.Module:
    """The detector of an MMDetection config (:func:`build_model_from_cfg` under ``mmdet``)."""
    return build_model_from_cfg(cfg, 'mmdet')


def build_segmentor(cfg) -> torch.nn.Module:
    """The segmentor of an MMSegmentation config (:func:`build_model_from_cfg`, ``mmseg``)."""
    return build_model_from_cfg(cfg, 'mmseg')


def build_soco_model(cfg) -> torch.nn.Module:
    """The model of a pretraining config (:func:`build_model_from_cfg` under the host's scope,
    ``mmselfsup`` or ``mmpretrain``): SoCo, or any algorithm of the host such as BYOL."""
    from mmsoco.registry import HOST
    return build_model_from_cfg(cfg, HOST)
