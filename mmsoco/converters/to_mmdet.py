"""Convert a SoCo checkpoint into an MMDetection 3.x checkpoint.

SoCo pretrains every layer a detector starts with, not only the backbone.  The conversion renames:

========================================  ==============================================
SoCo (online network)                     MMDetection
========================================  ==============================================
``backbone.*``                            ``backbone.*`` (same ResNet parameter names)
``neck.lateral_convs.{j}`` / ``fpn_convs``  ``neck.lateral_convs.{j - s}`` / ``fpn_convs``
``head.shared_convs.*`` / ``shared_fcs``  ``roi_head.bbox_head.shared_convs.*`` / ``shared_fcs``
``head.layer4.*`` (C4 variant)            ``roi_head.shared_head.layer4.*``
``projector.*``, ``predictor.*``          left out (pretext-task MLPs)
``target_net.*``                          left out (or converted instead: ``source='target'``)
========================================  ==============================================

**FPN levels.**  SoCo's FPN is built on C2-C5 with ``start_level=0``, so its ``lateral_convs`` and
``fpn_convs`` indices 0..3 are P2..P5.  An mmdet FPN with ``start_level=s`` numbers its convs from
level ``s``: index ``i`` reads backbone level ``s + i``, i.e. SoCo index ``j = s + i``.  Mask and
Faster R-CNN use ``s=0`` (indices unchanged, P6 is a max-pool without weights).  RetinaNet and FCOS
use ``s=1`` and P3-P7: their ``lateral_convs.{0,1,2}``/``fpn_convs.{0,1,2}`` (C3-C5 -> P3-P5) take
SoCo's indices 1..3, SoCo's P2 convs are left out, and the extra convs ``fpn_convs.{3,4}`` (P6, P7)
stay freshly initialised.  Copying names unchanged would silently put P5's 3x3 output conv into
FCOS's P6 conv (same shape), which is why the level shift is explicit here.
"""
import re
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import List, Mapping, Optional, Tuple, Union

import torch

from .builder import build_detector
from .key_check import compare_state_dicts
from .saving import save_conversion
from .soco_checkpoint import (SoCoCheckpointError, StateDict, check_variant, detect_variant,
                              group_label, key_group, load_soco_checkpoint, map_network,
                              split_networks)

DETECTORS = ('rcnn', 'retinanet', 'fcos')


@dataclass(frozen=True)
class DetectorLayout:
    """Where a detector keeps the parts SoCo pretrains.

    Args:
        variant (str): The SoCo variant it takes: ``'fpn'`` or ``'c4'``.
        name (str): Human-readable name, used in messages.
        fpn_start_level (int): ``start_level`` of the detector's FPN (``'fpn'`` only).
        box_head (bool): Whether ``roi_head.bbox_head`` is a 4conv1fc head that takes SoCo's
            R-CNN head (``'fpn'`` only).
        two_stage (bool): Whether the detector has an RPN and a RoI head (for messages).
    """

    variant: str
    name: str
    fpn_start_level: int = 0
    box_head: bool = False
    two_stage: bool = True

    def transfer_scopes(self) -> Tuple[str, ...]:
        """Detector parameter prefixes that SoCo initialises (fully, except FPN extra convs)."""
        if self.variant == 'c4':
            return ('backbone.', 'roi_head.shared_head.')
        scopes = ('backbone.', 'neck.lateral_convs.', 'neck.fpn_convs.')
        if self.box_head:
            scopes += ('roi_head.bbox_head.shared_convs.', 'roi_head.bbox_head.shared_fcs.')
        return scopes


def layout_for(variant: str, det: str = 'rcnn') -> DetectorLayout:
    """The layout of the transfer configs for a detector family.

    Args:
        variant (str): ``'fpn'`` or ``'c4'``.
        det (str): ``'rcnn'`` (Mask/Faster R-CNN; FPN with a 4conv1fc box head, or C4 with res5 as
            the shared head), ``'retinanet'`` or ``'fcos'`` (FPN P3-P7, no RoI head).

    Returns:
        DetectorLayout
    """
    if det not in DETECTORS:
        raise SoCoCheckpointError(f'det must be one of {DETECTORS}, got {det!r}')
    if variant == 'c4':
        if det != 'rcnn':
            raise SoCoCheckpointError(
                f'{det} needs the SoCo R50-FPN checkpoint (backbone + FPN P3-P5); a SoCo R50-C4 '
                "checkpoint transfers to R50-C4 R-CNN detectors only ('--det rcnn')")
        return DetectorLayout('c4', 'R-CNN R50-C4 (res5 shared head)')
    if det == 'rcnn':
        return DetectorLayout('fpn', 'R-CNN R50-FPN (P2-P6, 4conv1fc box head)', 0, True)
    return DetectorLayout('fpn', f'{"RetinaNet" if det == "retinanet" else "FCOS"} R50-FPN '
                          '(P3-P7)', 1, False, two_stage=False)


def _type_name(cfg: Optional[Mapping]) -> str:
    return str(cfg.get('type', '')).split('.')[-1] if isinstance(cfg, Mapping) else ''


def _is_4conv1fc(bbox_head: Mapping) -> bool:
    kind = _type_name(bbox_head)
    if kind == 'Shared4Conv1FCBBoxHead':
        return True
    return kind == 'ConvFCBBoxHead' and bbox_head.get('num_shared_convs') == 4 \
        and bbox_head.get('num_shared_fcs') == 1


def layout_from_config(cfg) -> DetectorLayout:
    """Read the layout a detector config expects.

    Args:
        cfg (str or Config or dict): An MMDetection config (path or loaded) with ``model``.

    Returns:
        DetectorLayout: ``'fpn'`` for a model with an ``FPN`` neck (its ``start_level``, and
        whether its box head is 4conv1fc), ``'c4'`` for a model with a ``ResLayer`` shared head.

    Raises:
        SoCoCheckpointError: If the model has neither, or is a segmentor.
    """
    if isinstance(cfg, str):
        from mmengine.config import Config
        cfg = Config.fromfile(cfg)
    model = cfg['model']
    neck = model.get('neck')
    roi_head = model.get('roi_head') or {}
    kind = _type_name(model)
    if isinstance(model.get('decode_head'), Mapping):
        raise SoCoCheckpointError(
            f"the config's model is {kind}, a segmentor (decode_head): expected an MMDetection "
            'detector; convert for a segmentor with soco2mmseg.py')
    if _type_name(neck) == 'FPN':
        start = neck.get('start_level', 0)
        bbox_head = roi_head.get('bbox_head')
        box = isinstance(bbox_head, Mapping) and _is_4conv1fc(bbox_head)
        levels = '-'.join(f'P{start + 2 + i}' for i in (0, neck.get('num_outs', 5) - 1))
        head = ', 4conv1fc box head' if box else (
            f', box head {_type_name(bbox_head)}' if bbox_head else '')
        return DetectorLayout('fpn', f'{kind} R50-FPN ({levels}{head})', start, box,
                              two_stage=bool(roi_head))
    shared = roi_head.get('shared_head')
    if _type_name(shared) in ('ResLayer', 'ResLayerExtraNorm') and shared.get('stage', 3) == 3:
        return DetectorLayout('c4', f'{kind} R50-C4 (res5 shared head)')
    raise SoCoCheckpointError(
        f'the config model ({kind}) has neither an FPN neck nor a res5 ResLayer shared head: '
        'SoCo checkpoints transfer to R50-FPN detectors (SoCo FPN variant) or R50-C4 R-CNN '
        'detectors (SoCo C4 variant)')


@dataclass
class Conversion:
    """The result of a conversion.

    Attributes:
        state_dict (OrderedDict): MMDetection parameter names -> tensors.
        mapped (list[tuple[str, str, str]]): ``(soco key, mmdet key, rule)``.
        left_out (list[tuple[str, str]]): ``(soco key, reason)``.
        variant (str): SoCo variant of the input.
        source (str): ``'online'`` or ``'target'``.
        layout (DetectorLayout): What it was converted for.
    """

    state_dict: 'OrderedDict[str, torch.Tensor]'
    mapped: List[Tuple[str, str, str]] = field(default_factory=list)
    left_out: List[Tuple[str, str]] = field(default_factory=list)
    variant: str = ''
    source: str = 'online'
    layout: Optional[DetectorLayout] = None
    #: The ``meta`` entry :func:`~.saving.save_conversion` writes :meth:`saved_info` under.
    META_KEY = 'soco_transfer'

    def saved_info(self) -> dict:
        """What the saved file says about the conversion (plain types)."""
        return dict(variant=self.variant, source=self.source, layout=self.layout.name,
                    fpn_start_level=self.layout.fpn_start_level, box_head=self.layout.box_head)

    def summary(self, verbose: bool = False) -> str:
        """What was mapped and what was left out, grouped (``verbose``: every key)."""
        lines = [f'SoCo R50-{self.variant.upper()} checkpoint, {self.source} network -> '
                 f'{self.layout.name}']
        lines.append(f'mapped {len(self.mapped)} tensors:')
        if verbose:
            lines += [f'  {src} -> {dst}' for src, dst, _ in self.mapped]
        else:
            for rule, n in Counter(rule for _, _, rule in self.mapped).items():
                lines.append(f'  {n:4d}  {rule}')
        lines.append(f'left out {len(self.left_out)} tensors:')
        if verbose:
            lines += [f'  {src}: {why}' for src, why in self.left_out]
        else:
            keys = {src for src, _ in self.left_out}
            groups = Counter((key_group(src), why) for src, why in self.left_out)
            for (group, why), n in groups.items():
                lines.append(f'  {n:4d}  {group_label(group, keys)}: {why}')
        fresh = ['the RPN, box predictor and mask head (if any)' if self.layout.two_stage
                 else 'the detection head']
        if self.variant == 'fpn' and self.layout.fpn_start_level > 0:
            fresh.append('the FPN extra convs P6/P7 (neck.fpn_convs.3, neck.fpn_convs.4)')
        if self.variant == 'c4':
            fresh.append(f'the extra BN after res5 ({EXTRA_NORM}*) where the detector has one '
                         '(ResLayerExtraNorm, as the transfer configs)')
        lines.append('freshly initialised in the detector: ' + '; '.join(fresh))
        return '\n'.join(lines)


#: The extra norm on res5's output of :class:`mmsoco.models.ResLayerExtraNorm` (Detectron2's
#: Res5ROIHeadsExtraNorm): no SoCo layer feeds it, it starts fresh.
EXTRA_NORM = 'roi_head.shared_head.norm.'
_FPN_KEY = re.compile(r'^neck\.(lateral_convs|fpn_convs)\.(\d+)\.(.+)$')
_LEFT_OUT = {
    'projector.': 'projector MLP of the pretext task, no detector counterpart',
    'predictor.': 'predictor MLP of the online network, no detector counterpart',
}


def _map_key(key: str, variant: str, layout: DetectorLayout) -> Tuple[Optional[str], str]:
    """``(mmdet key, rule)`` for a SoCo key, or ``(None, reason)`` when it is left out."""
    if key.startswith('backbone.'):
        return key, 'backbone.* -> backbone.*'
    if variant == 'fpn':
        m = _FPN_KEY.match(key)
        if m:
            kind, j, rest = m.group(1), int(m.group(2)), m.group(3)
            i = j - layout.fpn_start_level
            if i < 0:
                return None, (f'FPN level P{j + 2}: the detector FPN starts at '
                              f'P{layout.fpn_start_level + 2}')
            return f'neck.{kind}.{i}.{rest}', \
                f'neck.{kind}.{j}.* (P{j + 2}) -> neck.{kind}.{i}.*'
        if key.startswith('neck.'):
            return None, 'not an FPN lateral/output conv'
        if key.startswith(('head.shared_convs.', 'head.shared_fcs.')):
            if not layout.box_head:
                return None, f'R-CNN box head: {layout.name} has no 4conv1fc box head'
            part = key.split('.')[1]
            return 'roi_head.bbox_head.' + key[len('head.'):], \
                f'head.{part}.* -> roi_head.bbox_head.{part}.*'
    elif key.startswith('head.layer4.'):
        return 'roi_head.shared_head.' + key[len('head.'):], \
            'head.layer4.* (res5) -> roi_head.shared_head.layer4.*'
    for prefix, why in _LEFT_OUT.items():
        if key.startswith(prefix):
            return None, why
    return None, 'not part of the SoCo layout'


def convert_state_dict(state_dict: StateDict,
                       det: str = 'rcnn',
                       variant: Optional[str] = None,
                       source: str = 'online',
                       layout: Optional[DetectorLayout] = None) -> Conversion:
    """Convert a SoCo state dict for an MMDetection detector.

    Args:
        state_dict (dict[str, Tensor]): Full SoCo state dict (see :mod:`.soco_checkpoint`).
        det (str): Detector family when ``layout`` is not given: ``'rcnn'``, ``'retinanet'``,
            ``'fcos'``. Defaults to ``'rcnn'``.
        variant (str, optional): Expected SoCo variant; an error if the checkpoint is the other.
        source (str): ``'online'`` (default) or ``'target'`` network.
        layout (DetectorLayout, optional): Target layout, e.g. from :func:`layout_from_config`.

    Returns:
        Conversion
    """
    network, rest = split_networks(state_dict, source)
    found = detect_variant(network)
    check_variant(found, variant)
    if layout is None:
        layout = layout_for(found, det)
    check_variant(found, layout.variant, what=layout.name)

    conv = Conversion(OrderedDict(), variant=found, source=source, layout=layout)
    return map_network(conv, network, rest, lambda key: _map_key(key, found, layout), source)


def check_against_detector(conv: Conversion, detector: torch.nn.Module) -> None:
    """Check that a conversion loads completely into ``detector``.

    Every converted tensor must exist in the detector with the same shape, and every detector
    parameter/buffer in :meth:`DetectorLayout.transfer_scopes` must come from SoCo, except the
    FPN extra convs (P6/P7), which no SoCo level feeds, and the extra norm after res5
    (:data:`EXTRA_NORM`).

    Raises:
        SoCoCheckpointError: Naming unexpected, missing and mismatched keys.
    """
    converted_levels = {int(k.split('.')[2]) for k in conv.state_dict
                        if k.startswith('neck.fpn_convs.')}

    def fresh(key):  # FPN extra convs (RetinaNet/FCOS P6, P7), res5's extra norm: not SoCo's
        return key.startswith(EXTRA_NORM) or key.startswith('neck.fpn_convs.') and \
            int(key.split('.')[2]) not in converted_levels

    report = compare_state_dicts(conv.state_dict, detector, conv.layout.transfer_scopes(), fresh)
    if not report.ok:
        problems = report.describe(('missing from the converted checkpoint',
                                    'not in the detector', 'shape mismatch'), limit=8)
        raise SoCoCheckpointError(
            f'the converted SoCo R50-{conv.variant.upper()} checkpoint does not fit '
            f'{conv.layout.name}: {problems}. Check that the config matches the '
            'pretraining config (FPN/head norms, channels) or use the matching transfer config.')


def convert_soco_checkpoint(src: Union[str, Mapping],
                            dst: Optional[str] = None,
                            source: str = 'online',
                            variant: Optional[str] = None,
                            det: Optional[str] = None,
                            config=None) -> Conversion:
    """Load, convert, check and save: what ``tools/model_converters/soco2mmdet.py`` does.

    Args:
        src (str or Mapping): SoCo checkpoint (path or loaded).
        dst (str, optional): Where to save the MMDetection checkpoint; not saved if None.
        source (str): ``'online'`` or ``'target'``.
        variant (str, optional): Expected SoCo variant (``'fpn'``/``'c4'``).
        det (str, optional): ``'rcnn'``, ``'retinanet'`` or ``'fcos'``. Defaults to ``'rcnn'``
            unless ``config`` says otherwise.
        config (str or Config, optional): Transfer config: the layout is read from it and the
            result is checked against the detector it builds.

    Returns:
        Conversion
    """
    state_dict = load_soco_checkpoint(src)
    layout = None
    if config is not None:
        layout = layout_from_config(config)
        if det is not None:
            wanted = layout_for(layout.variant, det)
            if (wanted.fpn_start_level, wanted.box_head) != \
                    (layout.fpn_start_level, layout.box_head):
                raise SoCoCheckpointError(
                    f"--det {det} converts for {wanted.name}, but the config is {layout.name}; "
                    'drop --det (the config decides) or pick the matching one')
    conv = convert_state_dict(state_dict, det=det or 'rcnn', variant=variant, source=source,
                              layout=layout)
    if config is not None:
        check_against_detector(conv, build_detector(config))
    if dst is not None:
        save_conversion(conv, dst, meta=dict(
            soco_checkpoint=src if isinstance(src, str) else None))
    return conv


#: The name the tools and tests know (:func:`~.saving.save_conversion`).
save_mmdet_checkpoint = save_conversion
