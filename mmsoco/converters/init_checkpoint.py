"""Turn an existing ResNet into the starting checkpoint of a SoCo run (continued pretraining).

The source is read by :func:`~.init_layouts.read_checkpoint` (weights only) and recognised by
:func:`~.init_layouts.detect_layout`; this module converts it for the model a pretraining config
builds and adds the momentum copies.  What is written, by layout:

* a ResNet (``torchvision``, the ``backbone.*`` of an mmselfsup checkpoint, a start file that
  holds a backbone only): the backbone; for the C4 variant the source's ``layer4`` becomes the
  RoI head (res5, ``head.layer4.*``) and the backbone keeps ``conv1``..``layer3``;
* a SoCo model (``mmsoco``, ``original``): every module of the online network it provides.

The ResNet depth of the source (read from its block structure) must be the config's, and every
tensor must fit the model, shape by shape (:func:`~.key_check.compare_state_dicts`): a missing
key among those the source provides, an unexpected one or a shape mismatch is an error, nothing
is written.

**The target network starts as the online network.**  The written file holds, next to the online
modules it provides, ``target_net.module.<module>.*``: a copy of each of them (parameters and BN
buffers), and ``target_net.steps = 0``.  After ``load_from``, before the first step, the target
therefore equals the online network for every provided module; the modules the source lacks are
freshly initialised in both.  :class:`~mmsoco.models.utils.CosineMomentumEMA` copies the online
parameters into the target at step 0 anyway (its buffers it never touches), then averages with
the momentum schedule from its base value (step 1 uses ``m_1 ~ base_momentum``).  Writing the
copy keeps the BN buffers equal too, and resetting ``steps`` matters for SoCo sources: a
checkpoint of a finished run has ``steps`` near its ``max_iters``, and kept as is its momentum
would start near 1 in the new run.  The source's own momentum network (SoCo's ``target_net``,
MoCo's ``encoder_k``, BYOL's ``target_net``) is left out.

**Other algorithms.**  Where the model keeps its ResNet and its momentum copies, and under which
name, is a :class:`StartLayout`; :data:`SOCO_START` is SoCo's, and
:func:`~.init_starts.start_layout_for` gives every mmsoco algorithm's (PLR and EDMoCo: the ResNet
of the encoder-decoder, ``backbone.backbone.*``; EDMoCo's key encoder ``encoder_k.module.0.*``).
A ResNet source fills that ResNet and its copies, checked as strictly, with what stays fresh (a
new decoder, a projector, a queue) listed in ``new``.
"""
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import List, Mapping, Optional, Tuple

import torch

from .builder import build_soco_model
from .init_layouts import (LAYOUTS, UNDERSTOOD, InitCheckpointError,  # noqa: F401
                           describe_resnet, detect_layout, extra_reason, has, read_checkpoint,
                           resnet_depth, selfsup_algorithm, tensor_state)
from .init_starts import SOCO_MODULES, SOCO_START, StartLayout, start_layout_for  # noqa: F401
from .key_check import compare_state_dicts
from .saving import save_conversion
from .soco_checkpoint import (SoCoCheckpointError, StateDict, check_variant, detect_variant,
                              split_networks)


@dataclass
class InitConversion:
    """An existing model as the start of a pretraining run.

    Attributes:
        state_dict (OrderedDict): Model names -> tensors: the online modules the source
            provides, their momentum copies (``target_net.module.``) and the step counters (0).
        layout (str): One of :data:`LAYOUTS`.
        algorithm (str): What the keys say the source is (``'MoCo'``, ``'BYOL'``, ...).
        depth (int): ResNet depth of the source.
        variant (str): ``'fpn'`` or ``'c4'``, the config's (``'c4'``: res5 is ``head.layer4``).
        mapped (list[tuple[str, str]]): ``(source key, online key)``.
        left_out (list[tuple[str, str]]): ``(source key, reason)``.
        new (list[str]): Online modules of the model that stay freshly initialised.
        start (StartLayout): Where the model keeps its momentum copies.
    """

    state_dict: 'OrderedDict[str, torch.Tensor]'
    layout: str
    algorithm: str
    depth: int
    variant: str
    mapped: List[Tuple[str, str]] = field(default_factory=list)
    left_out: List[Tuple[str, str]] = field(default_factory=list)
    new: List[str] = field(default_factory=list)
    start: StartLayout = SOCO_START
    #: The ``meta`` entry :func:`~.saving.save_conversion` writes :meth:`saved_info` under.
    META_KEY = 'soco_init'

    @property
    def provided(self) -> List[str]:
        """Online modules the source provides (``backbone``, ``head`` for C4's res5, ...)."""
        found = list(OrderedDict.fromkeys(dst.split('.')[0] for _, dst in self.mapped))
        order = {m: i for i, m in enumerate(self.start.modules)}
        return sorted(found, key=lambda m: order.get(m, len(order)))

    def saved_info(self) -> dict:
        """What the saved file says about the conversion (plain types)."""
        return dict(layout=self.layout, algorithm=self.algorithm, depth=self.depth,
                    variant=self.variant, provided=self.provided, new=self.new)

    def summary(self, verbose: bool = False) -> str:
        """What was mapped (by module), what was left out, and what stays new."""
        model = (f'{self.start.name} R{self.depth}-{self.variant.upper()}' if
                 self.start.soco_modules else f'{self.start.name} (ResNet-{self.depth})')
        lines = [f'{LAYOUTS[self.layout]}: {self.algorithm}, ResNet-{self.depth} -> {model} start']
        copies = f' (and their {self.start.copy_name} copies)' if self.start.copies else ''
        lines.append(f'mapped {len(self.mapped)} tensors{copies}:')
        if verbose:
            lines += [f'  {src} -> {dst}' for src, dst in self.mapped]
        else:
            groups = Counter((_group(src), _group(dst)) for src, dst in self.mapped)
            lines += [f'  {n:4d}  {a} -> {b}' for (a, b), n in groups.items()]
        lines.append(f'left out {len(self.left_out)} tensors:')
        groups = Counter((_group(src), why) for src, why in self.left_out)
        lines += [f'  {n:4d}  {a}: {why}' for (a, why), n in groups.items()]
        lines.append(f'{", ".join(self.new)}: new' if self.new else
                     'new: nothing (every module comes from the source)')
        lines.append(self.start.note)
        if self.start.fresh_note:
            lines.append(self.start.fresh_note)
        return '\n'.join(lines)


def _group(key: str) -> str:
    """``layer4.*``, ``head.layer4.*``, ``encoder_k.*``, ``queue`` (single tensors as they are)."""
    parts = key.split('.')
    if len(parts) == 1:
        return key
    depth = 2 if parts[0] in ('head', 'backbone', 'module') and len(parts) > 2 else 1
    return '.'.join(parts[:depth]) + '.*'


def map_resnet(resnet: Mapping[str, torch.Tensor], variant: str, source_prefix: str,
               conv: InitConversion, target_prefix: str = 'backbone.') -> None:
    """ResNet keys (``conv1.weight``, ``layer4.2.bn3.bias``) -> ``backbone.*`` (or
    ``target_prefix``), and for the C4 variant ``layer4`` -> ``head.layer4.*``, recorded in
    ``conv``; a classifier ``fc.*`` is left out."""
    for key, value in resnet.items():
        if key.startswith('fc.'):
            conv.left_out.append((source_prefix + key, 'the ImageNet classifier: no counterpart '
                                  'in SoCo'))
            continue
        dst = ('head.' if variant == 'c4' and key.startswith('layer4.') else target_prefix) + key
        conv.state_dict[dst] = value.detach().clone()
        conv.mapped.append((source_prefix + key, dst))


def soco_resnet(state: Mapping[str, torch.Tensor]) -> StateDict:
    """The ResNet of a SoCo state dict with ResNet names: ``backbone.*`` and C4's res5
    ``head.layer4.*`` (``layer4.*``)."""
    return OrderedDict((k.split('.', 1)[1], v) for k, v in state.items()
                       if k.startswith(('backbone.', 'head.layer4.')))


def model_variant_and_depth(model: torch.nn.Module,
                            resnet_prefix: str = 'backbone.') -> Tuple[str, Optional[int]]:
    """``('fpn' | 'c4', depth)`` of a model (C4: res5 is ``head.layer4``) whose ResNet is at
    ``resnet_prefix``."""
    state = model.state_dict()
    variant = 'c4' if any(k.startswith('head.layer4.') for k in state) else 'fpn'
    if resnet_prefix != 'backbone.':
        return variant, resnet_depth(state, resnet_prefix)
    return variant, resnet_depth(soco_resnet(state))


def _soco_modules(state: StateDict, layout: str, variant: str, path: str) -> InitConversion:
    """A SoCo source's online modules, as they are."""
    online, rest = split_networks(state)
    try:
        src_variant = detect_variant(online)
        check_variant(src_variant, variant, what='the config')
    except SoCoCheckpointError as e:
        raise InitCheckpointError(f'{path}: {e}') from None
    src_depth = resnet_depth(soco_resnet(online))
    conv = InitConversion(OrderedDict(), layout, f'SoCo R{src_depth or "?"}-'
                          f'{src_variant.upper()}', src_depth or 0, variant)
    for key, value in online.items():
        conv.state_dict[key] = value.detach().clone()
        conv.mapped.append((key, key))
    conv.left_out += [(k, "the source's target network: the new target starts as a copy of the "
                       'online network') for k in rest]
    return conv


def _resnet_source(state: StateDict, layout: str, variant: str, path: str,
                   target_prefix: str = 'backbone.') -> InitConversion:
    """A source's ResNet, mapped by :func:`map_resnet`; the rest left out with its reason."""
    keys = list(state)
    if layout == 'torchvision':
        resnet, prefix, algorithm = state, '', 'ImageNet classifier'
    elif layout == 'selfsup':
        prefix, algorithm = 'backbone.', selfsup_algorithm(keys)
        resnet = OrderedDict((k[len(prefix):], v) for k, v in state.items()
                             if k.startswith(prefix))
    else:   # a SoCo source for another model, or a start file with a backbone only
        prefix, algorithm = '', 'SoCo start (backbone)' if layout == 'mmsoco' else 'SoCo'
        online, _ = split_networks(state)
        resnet = soco_resnet(online)
    src_depth = resnet_depth(resnet)
    if src_depth is None:
        raise InitCheckpointError(
            f'{path}: {LAYOUTS[layout].split(" (")[0]} whose {prefix}layer1..4 are not a ResNet '
            f'({describe_resnet(resnet)}); {UNDERSTOOD}')
    conv = InitConversion(OrderedDict(), layout, algorithm, src_depth, variant)
    map_resnet(resnet, variant, prefix, conv, target_prefix)
    if layout == 'selfsup':
        conv.left_out += [(k, extra_reason(k)) for k in keys if not k.startswith(prefix)]
    elif layout != 'torchvision':
        done = {'backbone.' + k for k in resnet} | {'head.' + k for k in resnet}
        conv.left_out += [(k, 'not the ResNet: no counterpart in the model') if not
                          k.startswith('target_net.') else
                          (k, "the source's target network: the new target starts as a copy of "
                           'the online network') for k in keys if k not in done]
    return conv


def convert_init_state(obj: object, model: torch.nn.Module, path: str = '<checkpoint>',
                       start: Optional[StartLayout] = None) -> InitConversion:
    """Convert a loaded source (see :func:`read_checkpoint`) for ``model`` and check it strictly.

    Args:
        obj (object): The loaded file.
        model (nn.Module): The model of the pretraining config (see
            :func:`~.builder.build_soco_model`).
        path (str): For messages.
        start (StartLayout, optional): Where ``model`` keeps its ResNet and momentum copies.
            Defaults to the model's own (:func:`~.init_starts.start_layout_for`).

    Returns:
        InitConversion

    Raises:
        InitCheckpointError: Unknown layout, another depth or variant, or tensors that do not fit.
    """
    if start is None:
        start = start_layout_for(model)
    variant, depth = model_variant_and_depth(model, start.resnet_prefix)
    layout = detect_layout(obj, path)
    if layout == 'original':
        from .from_original import convert_original_state
        state = OrderedDict(convert_original_state(obj).state_dict)
    else:
        state = tensor_state(obj)
    online, _ = split_networks(state)
    whole = layout == 'original' or has(online, 'neck.') or has(online, 'head.')
    if layout in ('original', 'mmsoco') and whole and start.soco_modules:
        conv = _soco_modules(state, layout, variant, path)
    else:
        conv = _resnet_source(state, layout, variant, path, start.resnet_prefix)
    conv.start = start
    if start.name != 'SoCo':
        conv.left_out = [(k, why.replace('in SoCo', f'in {start.name}'))
                         for k, why in conv.left_out]
    if conv.depth != depth:
        what = (f'ResNet-{conv.depth}' if conv.depth else
                f'not a ResNet of a known depth ({describe_resnet(soco_resnet(online))})')
        raise InitCheckpointError(
            f'{path}: the source is a {what}, the config\'s model a ResNet-{depth}; use a '
            f'ResNet-{depth} source or a config of that depth ({UNDERSTOOD})')

    scopes = [m + '.' for m in conv.provided] if start.soco_modules else [start.resnet_prefix]
    report = compare_state_dicts(conv.state_dict, model, scopes=scopes)
    if not report.ok:
        raise InitCheckpointError(
            f'{path}: the converted {conv.algorithm} weights do not fit the config\'s '
            f'{start.name} R{depth}-{variant.upper()} model: {report.describe()}')
    conv.state_dict.update(start.momentum_copies(conv.state_dict))
    report = compare_state_dicts(conv.state_dict, model)
    if report.unexpected or report.mismatched:   # the model's target misses what it averages
        raise InitCheckpointError(f'{path}: the target copies do not fit: {report.describe()}')
    momentum = {m.split('.')[0] for _, m in start.copies}
    model_modules = [m for m in OrderedDict.fromkeys(k.split('.')[0] for k in model.state_dict())
                     if m not in momentum and m not in conv.provided]
    order = {m: i for i, m in enumerate(start.modules)}
    conv.new = sorted(model_modules, key=lambda m: order.get(m, len(order)))
    # a module the source fills in part (an encoder-decoder's decoder): its other sub-modules
    conv.new += list(OrderedDict.fromkeys(
        '.'.join(k.split('.')[:2]) for k in model.state_dict() if k.split('.')[0] in
        conv.provided and k not in conv.state_dict))
    return conv


def convert_init_checkpoint(src: str, config, dst: Optional[str] = None,
                            start: Optional[StartLayout] = None) -> InitConversion:
    """Read, convert, check strictly against ``config``'s model and (if ``dst``) save.

    Args:
        src (str): The source file, any of :data:`LAYOUTS`.
        config (str or Config): A pretraining config (mmselfsup scope) of any mmsoco algorithm.
        dst (str, optional): Output ``{'state_dict', 'meta'}`` for ``load_from``.
        start (StartLayout, optional): Where the config's model keeps its ResNet and momentum
            copies; by default the model's own.

    Returns:
        InitConversion
    """
    obj = read_checkpoint(src)
    detect_layout(obj, src)   # an unknown layout is refused before the model is built
    conv = convert_init_state(obj, build_soco_model(config), src, start)
    if dst is not None:
        save_init_checkpoint(conv, dst, meta=dict(source=src))
    return conv


#: The name the tool and the study know (:func:`~.saving.save_conversion`).
save_init_checkpoint = save_conversion
