"""Convert a SoCo checkpoint into an MMSegmentation 1.x checkpoint.

========================================  ==============================================
SoCo (online network)                     MMSegmentation
========================================  ==============================================
``backbone.*``                            ``backbone.*`` (mmseg ``ResNet``, same names)
``head.layer4.*`` (C4 variant: res5)      ``backbone.layer4.*``
``neck.lateral_convs.*`` / ``fpn_convs``  ``neck.*`` unchanged (``with_neck``: Semantic FPN)
``head.shared_*`` (R-CNN box head)        left out (no segmentor counterpart)
``projector.*``, ``predictor.*``          left out (pretext-task MLPs)
``target_net.*``                          left out (or converted instead: ``source='target'``)
========================================  ==============================================

**Stem.**  SoCo pretrains a ResNet with the plain 7x7 stem (``conv1``/``bn1``).  mmseg's recipes
default to ``ResNetV1c``, whose deep stem (``stem.*``, three 3x3 convs) has no SoCo counterpart,
so the segmentation configs name ``type='ResNet'``; a ``ResNetV1c``/``ResNetV1d`` config is
refused before anything is converted.

**FPN.**  Semantic FPN's neck is mmseg's ``FPN`` on C2-C5 with ``start_level=0`` and four
outputs, the layout SoCo pretrains (P2-P5), so the indices are kept.  SoCo's FPN convs carry BN
(no conv bias): the neck must be configured with ``norm_cfg`` as in pretraining, which the strict
check against the segmentor enforces (a BN-less FPN has ``conv.bias`` and no ``bn.*``).
"""
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import List, Mapping, Optional, Tuple, Union

import torch

from .builder import build_segmentor
from .key_check import compare_state_dicts
from .saving import save_conversion
from .soco_checkpoint import (SoCoCheckpointError, StateDict, detect_variant, group_label,
                              key_group, load_soco_checkpoint, map_network, split_networks)
from .to_mmseg_decoder import convert_dense_checkpoint, is_dense_pretext

#: Backbone types that take a SoCo backbone (plain 7x7 stem).
PLAIN_STEM = ('ResNet', )
#: mmseg backbones with a deep stem (``stem.*``) that SoCo does not pretrain.
DEEP_STEM = ('ResNetV1c', 'ResNetV1d')
NECK_SCOPES = ('neck.lateral_convs.', 'neck.fpn_convs.')
#: The heads that make a config's model a detector (no segmentor has them).
DETECTOR_HEADS = ('rpn_head', 'roi_head', 'bbox_head')


def _type_name(cfg) -> str:
    return str(cfg.get('type', '')).split('.')[-1] if isinstance(cfg, Mapping) else ''


@dataclass
class SegConversion:
    """The result of a conversion for MMSegmentation.

    Attributes:
        state_dict (OrderedDict): mmseg parameter names -> tensors.
        mapped (list[tuple[str, str, str]]): ``(soco key, mmseg key, rule)``.
        left_out (list[tuple[str, str]]): ``(soco key, reason)``.
        variant (str): SoCo variant of the input (``'fpn'`` or ``'c4'``).
        source (str): ``'online'`` or ``'target'``.
        with_neck (bool): Whether the FPN was converted (Semantic FPN).
    """

    state_dict: 'OrderedDict[str, torch.Tensor]'
    mapped: List[Tuple[str, str, str]] = field(default_factory=list)
    left_out: List[Tuple[str, str]] = field(default_factory=list)
    variant: str = ''
    source: str = 'online'
    with_neck: bool = False
    #: The ``meta`` entry :func:`~.saving.save_conversion` writes :meth:`saved_info` under.
    META_KEY = 'soco_transfer'

    def saved_info(self) -> dict:
        """What the saved file says about the conversion (plain types)."""
        return dict(variant=self.variant, source=self.source, with_neck=self.with_neck,
                    target=self.target)

    @property
    def target(self) -> str:
        return ('Semantic FPN (ResNet backbone + FPN P2-P5)' if self.with_neck else
                'an mmseg ResNet backbone (FCN, PSPNet, DeepLabV3+, Non-local, ...)')

    def summary(self, verbose: bool = False) -> str:
        """What was mapped and what was left out, grouped (``verbose``: every key)."""
        lines = [f'SoCo R50-{self.variant.upper()} checkpoint, {self.source} network -> '
                 f'{self.target}', f'mapped {len(self.mapped)} tensors:']
        if verbose:
            lines += [f'  {src} -> {dst}' for src, dst, _ in self.mapped]
        else:
            lines += [f'  {n:4d}  {rule}' for rule, n in
                      Counter(rule for _, _, rule in self.mapped).items()]
        lines.append(f'left out {len(self.left_out)} tensors:')
        if verbose:
            lines += [f'  {src}: {why}' for src, why in self.left_out]
        else:
            keys = {src for src, _ in self.left_out}
            for (group, why), n in Counter((key_group(s), w) for s, w in self.left_out).items():
                lines.append(f'  {n:4d}  {group_label(group, keys)}: {why}')
        fresh = 'the FPN head (decode_head)' if self.with_neck else \
            'the decode head and the auxiliary head (if any)'
        lines.append(f'freshly initialised in the segmentor: {fresh}')
        return '\n'.join(lines)


def _check_not_converted(network: StateDict) -> None:
    """A checkpoint of a segmentor or a detector is not SoCo's: say which one it looks like."""
    if any(k.startswith(('decode_head.', 'auxiliary_head.')) for k in network):
        raise SoCoCheckpointError(
            'this is an MMSegmentation checkpoint already (decode_head.* keys); expected a SoCo '
            'checkpoint saved by mmsoco pretraining (or converted by original2soco.py)')


def _map_key(key: str, variant: str, with_neck: bool) -> Tuple[Optional[str], str]:
    """``(mmseg key, rule)`` for a SoCo key, or ``(None, reason)`` when it is left out."""
    if key.startswith('backbone.'):
        return key, 'backbone.* -> backbone.*'
    if variant == 'c4' and key.startswith('head.layer4.'):
        return 'backbone.' + key[len('head.'):], 'head.layer4.* (res5) -> backbone.layer4.*'
    if key.startswith(NECK_SCOPES):
        if with_neck:
            part = key.split('.')[1]
            return key, f'neck.{part}.* -> neck.{part}.*'
        return None, 'FPN: convert with --with-neck for Semantic FPN'
    if key.startswith('neck.'):
        return None, 'not an FPN lateral/output conv'
    if key.startswith('head.'):
        return None, 'R-CNN box head of the pretext task, no segmentor counterpart'
    if key.startswith('projector.'):
        return None, 'projector MLP of the pretext task, no segmentor counterpart'
    if key.startswith('predictor.'):
        return None, 'predictor MLP of the online network, no segmentor counterpart'
    return None, 'not part of the SoCo layout'


def convert_state_dict(state_dict: StateDict, with_neck: bool = False,
                       source: str = 'online') -> SegConversion:
    """Convert a SoCo state dict for an MMSegmentation segmentor.

    Args:
        state_dict (dict[str, Tensor]): Full SoCo state dict (see :mod:`.soco_checkpoint`).
        with_neck (bool): Also convert the FPN (``neck.lateral_convs``/``neck.fpn_convs``), for
            Semantic FPN. Needs the SoCo R50-FPN variant.
        source (str): ``'online'`` (default) or ``'target'`` network.

    Returns:
        SegConversion

    Raises:
        SoCoCheckpointError: The input is not a SoCo checkpoint, or ``with_neck`` is asked of
            the C4 variant (which has no FPN).
    """
    network, rest = split_networks(state_dict, source)
    _check_not_converted(network)
    variant = detect_variant(network)
    if with_neck and variant != 'fpn':
        raise SoCoCheckpointError(
            '--with-neck (Semantic FPN) needs a SoCo R50-FPN checkpoint; this is SoCo R50-C4, '
            'which has no FPN: convert it without --with-neck for a backbone-only segmentor')
    conv = SegConversion(OrderedDict(), variant=variant, source=source, with_neck=with_neck)
    return map_network(conv, network, rest, lambda key: _map_key(key, variant, with_neck),
                       source)


def neck_from_config(cfg) -> bool:
    """Whether a segmentation config has an FPN neck, after checking that its model is a
    segmentor and that its backbone takes SoCo's.

    Args:
        cfg (str or Config or dict): An MMSegmentation config (path or loaded) with ``model``.

    Returns:
        bool: True for an ``FPN`` neck (Semantic FPN), False for no neck.

    Raises:
        SoCoCheckpointError: The model is no segmentor (a detector's config, no
            ``decode_head``), the backbone is not a plain-stem ``ResNet`` (``ResNetV1c`` and the
            other deep-stem variants), or the neck is not an FPN on C2-C5 from level 0.
    """
    if isinstance(cfg, str):
        from mmengine.config import Config
        cfg = Config.fromfile(cfg)
    model = cfg['model']
    if not isinstance(model.get('decode_head'), Mapping):
        heads = [h for h in DETECTOR_HEADS if model.get(h)]
        what = (f'a detector ({", ".join(heads)})' if heads else 'not a segmentor (no '
                'decode_head)')
        raise SoCoCheckpointError(
            f"the config's model is {_type_name(model) or 'untyped'}, {what}: expected an "
            'MMSegmentation segmentor (EncoderDecoder with a decode_head), e.g. a config in '
            'configs/segmentation; convert for a detector with soco2mmdet.py')
    backbone = _type_name(model.get('backbone'))
    if backbone not in PLAIN_STEM:
        why = (f'{backbone} has a deep stem (stem.*: three 3x3 convs) that SoCo does not '
               'pretrain' if backbone in DEEP_STEM else f'{backbone or "no backbone"} is not a '
               'ResNet')
        raise SoCoCheckpointError(
            f"the config's backbone is {backbone or 'missing'}, expected type='ResNet' (plain "
            f"7x7 stem, as SoCo pretrains it): {why}. Set model.backbone.type='ResNet' as the "
            'configs in configs/segmentation do')
    neck = model.get('neck')
    if neck is None:
        return False
    if _type_name(neck) != 'FPN' or neck.get('start_level', 0) != 0:
        raise SoCoCheckpointError(
            f'the config has a {_type_name(neck)} neck (start_level '
            f'{neck.get("start_level", 0)}), expected an FPN on C2-C5 from start_level 0 (Semantic '
            "FPN, as SoCo's FPN P2-P5) or no neck")
    return True


def check_against_segmentor(conv: SegConversion, segmentor: Union[torch.nn.Module, Mapping]):
    """Check that a conversion loads completely into ``segmentor``.

    Every converted tensor must exist in the segmentor with the same shape, and every
    ``backbone.*`` (and, with the neck, ``neck.lateral_convs.*``/``neck.fpn_convs.*``) tensor
    of the segmentor must come from SoCo.

    Returns:
        KeyReport: The matched keys (and empty problem lists).

    Raises:
        SoCoCheckpointError: Naming unexpected, missing and mismatched keys.
    """
    scopes = ('backbone.', ) + (NECK_SCOPES if conv.with_neck else ())
    report = compare_state_dicts(conv.state_dict, segmentor, scopes=scopes)
    if not report.ok:
        raise SoCoCheckpointError(
            f'the converted SoCo R50-{conv.variant.upper()} checkpoint does not fit the '
            'segmentor of the config: ' + report.describe(
                ('missing from the converted checkpoint', 'not in the segmentor',
                 'shape mismatch')) + '. Check that the config matches the pretraining config '
            '(ResNet depth, FPN channels and norm_cfg) or use a config in configs/segmentation.')
    return report


def convert_soco_checkpoint(src: Union[str, Mapping], dst: Optional[str] = None,
                            source: str = 'online', with_neck: Optional[bool] = None,
                            config=None) -> SegConversion:
    """Load, convert, check and save: what ``tools/model_converters/soco2mmseg.py`` does.

    Args:
        src (str or Mapping): SoCo checkpoint (path or loaded).
        dst (str, optional): Where to save the MMSegmentation checkpoint; not saved if None.
        source (str): ``'online'`` or ``'target'``.
        with_neck (bool, optional): Convert the FPN too. Defaults to what ``config`` has (an FPN
            neck or none), else False.
        config (str or Config, optional): Segmentation config: its backbone must be a plain-stem
            ``ResNet``, and the result is checked against the segmentor it builds.

    Returns:
        SegConversion, or a :class:`~.to_mmseg_decoder.DecoderConversion` for a dense pretext
        checkpoint (PLR, EDMoCo: backbone and decode head, for a config with the same head)
    """
    state_dict = load_soco_checkpoint(src)
    if isinstance(config, str):   # parsed once: checked here, built below
        from mmengine.config import Config
        config = Config.fromfile(config)
    if is_dense_pretext(state_dict):   # PLR, EDMoCo: backbone and decoder
        if with_neck or config is not None and neck_from_config(config):
            raise SoCoCheckpointError(
                'a dense pretext checkpoint holds a ResNet and a decode head, no FPN: convert '
                'for a segmentor without a neck (no --with-neck), e.g. a config in '
                'configs/segmentation with the pretrained decoder')
        return convert_dense_checkpoint(state_dict, src, dst, source, config)
    if config is not None:
        has_neck = neck_from_config(config)
        if with_neck is not None and with_neck != has_neck:
            raise SoCoCheckpointError(
                '--with-neck converts the FPN for Semantic FPN, but the config has no neck'
                if with_neck else 'the config has an FPN neck (Semantic FPN): add --with-neck')
        with_neck = has_neck
    conv = convert_state_dict(state_dict, with_neck=bool(with_neck), source=source)
    if config is not None:
        check_against_segmentor(conv, build_segmentor(config))
    if dst is not None:
        save_conversion(conv, dst, meta=dict(
            soco_checkpoint=src if isinstance(src, str) else None))
    return conv


#: The name the tools and tests know (:func:`~.saving.save_conversion`).
save_mmseg_checkpoint = save_conversion
