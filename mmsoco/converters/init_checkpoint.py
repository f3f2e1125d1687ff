"""Turn an existing ResNet into the starting checkpoint of a SoCo run (continued pretraining).

Understood sources (:data:`LAYOUTS`), recognised from their keys, and what is written:

* ``torchvision``: a ResNet ``state_dict`` (``conv1``, ``bn1``, ``layer1..4``, ``fc``): the
  backbone; the classifier ``fc`` is left out;
* ``selfsup``: an mmselfsup 1.x / mmpretrain self-supervised checkpoint, ``backbone.*`` plus the
  algorithm's own modules (MoCo's ``encoder_k``/``queue``, BYOL's ``target_net``/
  ``head.predictor``, DenseCL's ``encoder_k``/``queue2``, their necks): the backbone, the rest
  left out with its reason;
* ``mmsoco``: a SoCo checkpoint of mmsoco (``backbone``, ``neck``, ``head``, ``projector``,
  ``predictor``, ``target_net.module.*``): every module of the online network;
* ``original``: the authors' SoCo release (``model``: ``module.encoder/neck/head/...``), read by
  :mod:`.from_original`: every module of the online network.

For the C4 variant the source's ``layer4`` becomes the RoI head (res5, ``head.layer4.*``); the
backbone keeps ``conv1``..``layer3``.  The ResNet depth of the source (read from its block
structure) must be the config's, and every tensor must fit the model that the pretraining config
builds, shape by shape (:func:`~mmsoco.converters.key_check.compare_state_dicts`): a missing key
among those the source provides, an unexpected one or a shape mismatch is an error, nothing is
written.

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
"""
import argparse
import os.path as osp
import pickle
import re
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Tuple

import torch
from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present

from .key_check import compare_state_dicts
from .soco_checkpoint import (TARGET_MODULE_PREFIX, SoCoCheckpointError, StateDict,
                              check_variant, detect_variant, split_networks,
                              torch_load_weights_only, unpickling_reason)

#: What each understood layout is, for messages.
LAYOUTS = OrderedDict([
    ('torchvision', 'a torchvision ResNet state_dict (conv1, bn1, layer1..4, fc)'),
    ('selfsup', "an mmselfsup 1.x / mmpretrain self-supervised checkpoint ('backbone.*', "
                "e.g. MoCo v2, BYOL, DenseCL)"),
    ('mmsoco', "an mmsoco SoCo checkpoint (backbone, neck/head, projector, predictor)"),
    ('original', "a checkpoint of the original SoCo release ('model': module.encoder.*, ...)"),
])
UNDERSTOOD = 'understood: ' + '; '.join(LAYOUTS.values())
#: The online modules of a SoCo model, in the order they are reported.
SOCO_MODULES = ('backbone', 'neck', 'head', 'projector', 'predictor')
#: ResNet depth by block type and blocks per stage (layer1..layer4).
RESNET_DEPTHS = {('basic', (2, 2, 2, 2)): 18, ('basic', (3, 4, 6, 3)): 34,
                 ('bottleneck', (3, 4, 6, 3)): 50, ('bottleneck', (3, 4, 23, 3)): 101,
                 ('bottleneck', (3, 8, 36, 3)): 152}
#: Why an mmselfsup / mmpretrain algorithm's own tensors are left out, by key prefix.
SELFSUP_EXTRAS = (
    ('encoder_k.', "the momentum (key) encoder of MoCo/DenseCL: SoCo's target starts as a copy "
                   'of the online network'),
    ('momentum_encoder.', 'the momentum encoder (MoCo v3): SoCo\'s target starts as a copy of '
                          'the online network'),
    ('target_net.', "the algorithm's target network (BYOL): SoCo's target starts as a copy of "
                    'the online network'),
    ('queue', 'the negative queue of MoCo/DenseCL'),
    ('neck.', "the algorithm's image-level neck: no counterpart in SoCo"),
    ('head.', "the algorithm's head (BYOL's predictor, ...): no counterpart in SoCo"),
    ('data_preprocessor.', 'normalisation constants (set by the SoCo config)'),
)


class InitCheckpointError(SoCoCheckpointError):
    """The source cannot start a SoCo run of the given config; nothing was written."""


@dataclass
class InitConversion:
    """An existing model as the start of a SoCo run.

    Attributes:
        state_dict (OrderedDict): mmsoco SoCo names -> tensors: the online modules the source
            provides, their copies under ``target_net.module.``, and ``target_net.steps`` (0).
        layout (str): One of :data:`LAYOUTS`.
        algorithm (str): What the keys say the source is (``'MoCo'``, ``'BYOL'``, ...).
        depth (int): ResNet depth of the source.
        variant (str): ``'fpn'`` or ``'c4'``, the config's.
        mapped (list[tuple[str, str]]): ``(source key, online key)``.
        left_out (list[tuple[str, str]]): ``(source key, reason)``.
        new (list[str]): Online modules of the model that stay freshly initialised.
    """

    state_dict: 'OrderedDict[str, torch.Tensor]'
    layout: str
    algorithm: str
    depth: int
    variant: str
    mapped: List[Tuple[str, str]] = field(default_factory=list)
    left_out: List[Tuple[str, str]] = field(default_factory=list)
    new: List[str] = field(default_factory=list)

    @property
    def provided(self) -> List[str]:
        """Online modules the source provides (``backbone``, ``head`` for C4's res5, ...)."""
        found = {dst.split('.')[0] for _, dst in self.mapped}
        return [m for m in SOCO_MODULES if m in found]

    def summary(self, verbose: bool = False) -> str:
        """What was mapped (by module), what was left out, and what stays new."""
        lines = [f'{LAYOUTS[self.layout]}: {self.algorithm}, ResNet-{self.depth} -> '
                 f'SoCo R{self.depth}-{self.variant.upper()} start']
        lines.append(f'mapped {len(self.mapped)} tensors (and their target_net copies):')
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
        lines.append('target_net: a copy of the online modules above, steps = 0 (the momentum '
                     'schedule starts at its base value)')
        return '\n'.join(lines)


def _group(key: str) -> str:
    """``layer4.*``, ``head.layer4.*``, ``encoder_k.*``, ``queue`` (single tensors as they are)."""
    parts = key.split('.')
    if len(parts) == 1:
        return key
    depth = 2 if parts[0] in ('head', 'backbone', 'module') and len(parts) > 2 else 1
    return '.'.join(parts[:depth]) + '.*'


# ---------------------------------------------------------------------------------- reading
def _history_buffer_getattr(obj: object, name: str) -> object:
    """What ``getattr`` may do while unpickling: fetch a statistic of mmengine's HistoryBuffer.

    A Runner checkpoint pickles each HistoryBuffer of its ``message_hub`` with the class's
    statistic functions, as ``getattr(HistoryBuffer, 'min')`` (unless mmsoco was imported when it
    was saved, see :mod:`mmsoco.utils.checkpoint`).  Allow-listing ``getattr`` itself would let a
    file fetch and call any method; this stands in for it and allows exactly those look-ups.
    """
    from mmengine.logging import HistoryBuffer
    if obj is HistoryBuffer and name in ('min', 'max', 'current', 'mean'):
        return getattr(HistoryBuffer, name)
    what = getattr(obj, '__name__', type(obj).__name__)
    raise pickle.UnpicklingError(f'Unsupported global: GLOBAL getattr({what},{name})')


#: The globals allowed while reading a source, besides mmengine's (``mmsoco.utils``).
READ_GLOBALS = [argparse.Namespace, (_history_buffer_getattr, 'builtins.getattr'),
                (_history_buffer_getattr, '__builtin__.getattr')]


def read_checkpoint(path: str) -> object:
    """Load ``path`` with torch's weights-only unpickler.

    Allowed besides tensors and plain containers: what an mmengine Runner checkpoint holds
    (:func:`mmsoco.utils.mmengine_checkpoint_globals`, and the HistoryBuffer statistics of
    :func:`_history_buffer_getattr`) and ``argparse.Namespace`` (the training arguments of an
    original SoCo checkpoint).  Nothing else is unpickled.

    Raises:
        InitCheckpointError: Missing, unreadable (truncated, garbage) or refused file; the message
            names the file and the understood layouts.
    """
    from mmsoco.utils import allow_mmengine_checkpoint_globals

    if not osp.isfile(path):
        raise InitCheckpointError(f'{path}: no such file; {UNDERSTOOD}')
    allow_mmengine_checkpoint_globals()
    try:
        with torch.serialization.safe_globals(READ_GLOBALS):
            return torch_load_weights_only(path)
    except pickle.UnpicklingError as e:
        text = str(e)
        m = re.search(r'Unsupported global: GLOBAL (\S+)', text)
        if m:
            raise InitCheckpointError(
                f'{path}: refused by the weights-only loader: it references {m.group(1)}, which '
                f'none of the understood layouts holds; {UNDERSTOOD}') from None
        # garbage that starts like a pickle: 'WeightsUnpickler error: Unsupported operand 95'
        raise InitCheckpointError(f'{path} is not a readable torch checkpoint '
                                  f'({unpickling_reason(e)}); is the file complete? '
                                  f'{UNDERSTOOD}') from None
    except SoCoCheckpointError as e:
        raise InitCheckpointError(f'{e}; {UNDERSTOOD}') from None


def _tensor_state(obj: object) -> Optional[StateDict]:
    """The state dict of a loaded file (``obj['state_dict']`` or ``obj`` itself), DDP's
    ``module.`` prefix removed; None if it is not a non-empty mapping of tensors."""
    if not isinstance(obj, Mapping):
        return None
    state = obj.get('state_dict', obj)
    if not isinstance(state, Mapping) or not state:
        return None
    state = OrderedDict((k, v) for k, v in state.items() if isinstance(v, torch.Tensor))
    if not state:
        return None
    consume_prefix_in_state_dict_if_present(state, 'module.')
    return state


def _has(keys, prefix: str) -> bool:
    return any(k.startswith(prefix) for k in keys)


def _found(keys) -> str:
    counts = Counter(k.split('.')[0] for k in keys)
    return ', '.join(f'{p}{".*" if p not in keys else ""} ({n})'
                     for p, n in sorted(counts.items())[:8]) or 'no tensors'


def detect_layout(obj: object, path: str = '<checkpoint>') -> str:
    """Which of :data:`LAYOUTS` a loaded file is.

    Raises:
        InitCheckpointError: None of them; the message lists what was found.
    """
    if isinstance(obj, Mapping) and isinstance(obj.get('model'), Mapping) and _has(
            [k[len('module.'):] if k.startswith('module.') else k for k in obj['model']],
            'encoder.'):
        return 'original'
    state = _tensor_state(obj)
    if state is None:
        what = sorted(obj)[:8] if isinstance(obj, Mapping) else type(obj).__name__
        raise InitCheckpointError(f'{path}: not a state dict of tensors (found {what}); '
                                  f'{UNDERSTOOD}')
    keys = list(state)
    if _has(keys, 'backbone.'):
        online, _ = split_networks(state)
        if _has(online, 'projector.') and _has(online, 'predictor.'):
            return 'mmsoco'
        return 'selfsup'
    if 'conv1.weight' in state and _has(keys, 'layer1.'):
        return 'torchvision'
    raise InitCheckpointError(f'{path}: unknown layout, found {_found(keys)}; {UNDERSTOOD}')


def resnet_depth(state: Mapping[str, torch.Tensor], prefix: str = '') -> Optional[int]:
    """The depth of the ResNet whose stages are ``<prefix>layer1..4``, from its blocks.

    Returns:
        int or None: 18/34 (basic blocks), 50/101/152 (bottlenecks), None for another structure.
    """
    blocks = []
    for stage in range(1, 5):
        found = {int(m.group(1)) for k in state
                 for m in [re.match(rf'^{re.escape(prefix)}layer{stage}\.(\d+)\.', k)] if m}
        blocks.append(max(found) + 1 if found else 0)
    kind = 'bottleneck' if f'{prefix}layer1.0.conv3.weight' in state else 'basic'
    return RESNET_DEPTHS.get((kind, tuple(blocks)))


def _describe_resnet(state, prefix='') -> str:
    blocks = [len({k.split('.')[1] for k in state if k.startswith(f'{prefix}layer{s}.')})
              for s in range(1, 5)]
    kind = 'bottleneck' if f'{prefix}layer1.0.conv3.weight' in state else 'basic'
    return f'{kind} blocks {"-".join(map(str, blocks))}'


# ---------------------------------------------------------------------------------- converting
def _selfsup_algorithm(keys) -> str:
    if _has(keys, 'queue2'):
        return 'DenseCL'
    if _has(keys, 'encoder_k.') and _has(keys, 'queue'):
        return 'MoCo'
    if _has(keys, 'momentum_encoder.'):
        return 'MoCo v3'
    if _has(keys, 'target_net.') and _has(keys, 'head.predictor.'):
        return 'BYOL'
    return 'backbone.* checkpoint'


def _extra_reason(key: str) -> str:
    for prefix, why in SELFSUP_EXTRAS:
        if key.startswith(prefix):
            return why
    return 'no counterpart in SoCo'


def _resnet_to_soco(backbone: Mapping[str, torch.Tensor], variant: str, source_prefix: str,
                    conv: InitConversion) -> None:
    """ResNet keys (``conv1.weight``, ``layer4.2.bn3.bias``) -> ``backbone.*`` / ``head.layer4.*``
    (C4), recorded in ``conv``; a classifier ``fc.*`` is left out."""
    for key, value in backbone.items():
        if key.startswith('fc.'):
            conv.left_out.append((source_prefix + key, 'the ImageNet classifier: no counterpart '
                                  'in SoCo'))
            continue
        dst = ('head.' if variant == 'c4' and key.startswith('layer4.') else 'backbone.') + key
        conv.state_dict[dst] = value.detach().clone()
        conv.mapped.append((source_prefix + key, dst))


def _soco_resnet(state: Mapping[str, torch.Tensor]) -> StateDict:
    """The ResNet of a SoCo state dict with ResNet names: ``backbone.*`` and C4's res5
    ``head.layer4.*`` (``layer4.*``)."""
    return OrderedDict((k.split('.', 1)[1], v) for k, v in state.items()
                       if k.startswith(('backbone.', 'head.layer4.')))


def model_variant_and_depth(model: torch.nn.Module) -> Tuple[str, Optional[int]]:
    """``('fpn' | 'c4', depth)`` of a SoCo model (C4's res5 is ``head.layer4``)."""
    state = model.state_dict()
    variant = 'c4' if any(k.startswith('head.layer4.') for k in state) else 'fpn'
    return variant, resnet_depth(_soco_resnet(state))


def convert_init_state(obj: object, model: torch.nn.Module,
                       path: str = '<checkpoint>') -> InitConversion:
    """Convert a loaded source (see :func:`read_checkpoint`) for ``model`` and check it strictly.

    Args:
        obj (object): The loaded file.
        model (nn.Module): The SoCo model of the pretraining config (see
            :func:`~mmsoco.converters.from_original.build_soco_model`).
        path (str): For messages.

    Returns:
        InitConversion

    Raises:
        InitCheckpointError: Unknown layout, another depth or variant, or tensors that do not fit.
    """
    variant, depth = model_variant_and_depth(model)
    layout = detect_layout(obj, path)
    if layout == 'original':
        from .from_original import convert_original_state
        state = OrderedDict(convert_original_state(obj).state_dict)
    else:
        state = _tensor_state(obj)

    if layout in ('original', 'mmsoco'):
        online, rest = split_networks(state)
        try:
            src_variant = detect_variant(online)
            check_variant(src_variant, variant, what='the config')
        except SoCoCheckpointError as e:
            raise InitCheckpointError(f'{path}: {e}') from None
        resnet = _soco_resnet(online)
        src_depth = resnet_depth(resnet)
        conv = InitConversion(OrderedDict(), layout,
                              f'SoCo R{src_depth or "?"}-{src_variant.upper()}', src_depth or 0,
                              variant)
        for key, value in online.items():
            conv.state_dict[key] = value.detach().clone()
            conv.mapped.append((key, key))
        conv.left_out += [(k, "the source's target network: the new target starts as a copy "
                           'of the online network') for k in rest]
    else:
        keys = list(state)
        if layout == 'torchvision':
            backbone, prefix, algorithm = state, '', 'ImageNet classifier'
        else:
            prefix = 'backbone.'
            backbone = OrderedDict((k[len(prefix):], v) for k, v in state.items()
                                   if k.startswith(prefix))
            algorithm = _selfsup_algorithm(keys)
        resnet = backbone
        src_depth = resnet_depth(resnet)
        if src_depth is None:
            raise InitCheckpointError(
                f'{path}: {LAYOUTS[layout].split(" (")[0]} whose {prefix or ""}layer1..4 are not '
                f'a ResNet ({_describe_resnet(resnet)}); {UNDERSTOOD}')
        conv = InitConversion(OrderedDict(), layout, algorithm, src_depth, variant)
        _resnet_to_soco(backbone, variant, prefix, conv)
        if layout == 'selfsup':
            conv.left_out += [(k, _extra_reason(k)) for k in keys if not k.startswith(prefix)]
    if conv.depth != depth:
        what = (f'ResNet-{conv.depth}' if conv.depth else
                f'not a ResNet of a known depth ({_describe_resnet(resnet)})')
        raise InitCheckpointError(
            f'{path}: the source is a {what}, the config\'s model a ResNet-{depth}; use a '
            f'ResNet-{depth} source or a config of that depth ({UNDERSTOOD})')

    report = compare_state_dicts(conv.state_dict, model,
                                 scopes=[m + '.' for m in conv.provided])
    if not report.ok:
        raise InitCheckpointError(
            f'{path}: the converted {conv.algorithm} weights do not fit the config\'s SoCo '
            f'R{depth}-{variant.upper()} model: {report.describe()}')
    # the target network: a copy of every provided module except the predictor (online only)
    for key in [k for k in conv.state_dict if not k.startswith('predictor.')]:
        conv.state_dict[TARGET_MODULE_PREFIX + key] = conv.state_dict[key].clone()
    conv.state_dict['target_net.steps'] = torch.zeros((), dtype=torch.long)
    report = compare_state_dicts(conv.state_dict, model)
    if report.unexpected or report.mismatched:   # the model's target misses what it averages
        raise InitCheckpointError(f'{path}: the target copies do not fit: {report.describe()}')
    model_modules = {k.split('.')[0] for k in model.state_dict()}
    conv.new = [m for m in SOCO_MODULES if m in model_modules and m not in conv.provided]
    return conv


def convert_init_checkpoint(src: str, config, dst: Optional[str] = None) -> InitConversion:
    """Read, convert, check strictly against ``config``'s model and (if ``dst``) save.

    Args:
        src (str): The source file, any of :data:`LAYOUTS`.
        config (str or Config): A SoCo pretraining config.
        dst (str, optional): Output ``{'state_dict', 'meta'}`` for ``load_from``.

    Returns:
        InitConversion
    """
    from .from_original import build_soco_model
    obj = read_checkpoint(src)
    detect_layout(obj, src)   # an unknown layout is refused before the model is built
    conv = convert_init_state(obj, build_soco_model(config), src)
    if dst is not None:
        save_init_checkpoint(conv, dst, meta=dict(source=src))
    return conv


def save_init_checkpoint(conv: InitConversion, path: str, meta: Optional[Dict] = None) -> None:
    """Save ``{'state_dict', 'meta'}`` (plain types: loads weights-only, e.g. by ``load_from``)."""
    info = dict(layout=conv.layout, algorithm=conv.algorithm, depth=conv.depth,
                variant=conv.variant, provided=conv.provided, new=conv.new)
    torch.save({'state_dict': conv.state_dict,
                'meta': dict(soco_init=info, **(meta or {}))}, path)
