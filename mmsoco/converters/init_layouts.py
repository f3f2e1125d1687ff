"""Recognise the source of a continued-pretraining start (``init2soco.py``) from its keys.

Understood layouts (:data:`LAYOUTS`):

* ``torchvision``: a ResNet ``state_dict`` (``conv1``, ``bn1``, ``layer1..4``, ``fc``);
* ``selfsup``: an mmselfsup 1.x / mmpretrain self-supervised checkpoint, ``backbone.*`` plus the
  algorithm's own modules (MoCo's ``encoder_k``/``queue``, BYOL's ``target_net``/
  ``head.predictor``, DenseCL's ``encoder_k``/``queue2``, their necks: :data:`SELFSUP_EXTRAS`);
* ``mmsoco``: a SoCo checkpoint of mmsoco (``backbone``, ``neck``, ``head``, ``projector``,
  ``predictor``, ``target_net.module.*``), or a start file ``init2soco.py`` wrote (the online
  modules it provided and their ``target_net.module.*`` copies);
* ``original``: the authors' SoCo release (``model``: ``module.encoder/neck/head/...``).

A fine-tuned model (an MMDetection detector, an MMSegmentation segmentor) has ``backbone.*`` too,
but it is none of these: it is refused with one line naming what it is.  The ResNet depth is read
from the block structure (:func:`resnet_depth`).
"""
import re
from collections import Counter, OrderedDict
from typing import Mapping, Optional

import torch
from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present

from .reading import SoCoCheckpointError, read_weights_only
from .soco_checkpoint import TARGET_MODULE_PREFIX, StateDict, split_networks

#: What each understood layout is, for messages.
LAYOUTS = OrderedDict([
    ('torchvision', 'a torchvision ResNet state_dict (conv1, bn1, layer1..4, fc)'),
    ('selfsup', "an mmselfsup 1.x / mmpretrain self-supervised checkpoint ('backbone.*', "
                "e.g. MoCo v2, BYOL, DenseCL)"),
    ('mmsoco', "an mmsoco SoCo checkpoint (backbone, neck/head, projector, predictor) or a "
               'start file init2soco.py wrote'),
    ('original', "a checkpoint of the original SoCo release ('model': module.encoder.*, ...)"),
])
UNDERSTOOD = 'understood: ' + '; '.join(LAYOUTS.values())
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
#: Fine-tuned models that have ``backbone.*`` but are no pretraining checkpoint, by the modules
#: that give them away.
FINE_TUNED = (
    (('rpn_head.', 'roi_head.', 'bbox_head.'), 'an MMDetection detector checkpoint'),
    (('decode_head.', 'auxiliary_head.'), 'an MMSegmentation segmentor checkpoint'),
)


class InitCheckpointError(SoCoCheckpointError):
    """The source cannot start a SoCo run of the given config; nothing was written."""


def read_checkpoint(path: str) -> object:
    """Load a source with the converters' weights-only reader
    (:func:`~.reading.read_weights_only`).

    Raises:
        InitCheckpointError: Missing, unreadable (truncated, garbage) or refused file; the message
            names the file and the understood layouts.
    """
    return read_weights_only(path, UNDERSTOOD, InitCheckpointError)


def tensor_state(obj: object) -> Optional[StateDict]:
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


def has(keys, prefix: str) -> bool:
    """Whether a key starts with ``prefix``."""
    return any(k.startswith(prefix) for k in keys)


def found_modules(keys) -> str:
    """``'backbone.* (318), neck.* (8)'``: the top-level modules of ``keys``, for messages."""
    counts = Counter(k.split('.')[0] for k in keys)
    return ', '.join(f'{p}{".*" if p not in keys else ""} ({n})'
                     for p, n in sorted(counts.items())[:8]) or 'no tensors'


def detect_layout(obj: object, path: str = '<checkpoint>') -> str:
    """Which of :data:`LAYOUTS` a loaded file is.

    Raises:
        InitCheckpointError: None of them (a fine-tuned detector or segmentor among them); the
            message names what was found.
    """
    if isinstance(obj, Mapping) and isinstance(obj.get('model'), Mapping) and has(
            [k[len('module.'):] if k.startswith('module.') else k for k in obj['model']],
            'encoder.'):
        return 'original'
    state = tensor_state(obj)
    if state is None:
        what = sorted(obj)[:8] if isinstance(obj, Mapping) else type(obj).__name__
        raise InitCheckpointError(f'{path}: not a state dict of tensors (found {what}); '
                                  f'{UNDERSTOOD}')
    keys = list(state)
    if has(keys, 'backbone.'):
        for prefixes, what in FINE_TUNED:
            if any(has(keys, p) for p in prefixes):
                raise InitCheckpointError(
                    f'{path}: {what} (found {found_modules(keys)}), none of the understood '
                    f'layouts: start from the pretrained checkpoint it was fine-tuned from; '
                    f'{UNDERSTOOD}')
        online, _ = split_networks(state)
        if has(online, 'projector.') and has(online, 'predictor.') or has(
                keys, TARGET_MODULE_PREFIX + 'backbone.'):
            return 'mmsoco'
        return 'selfsup'
    if 'conv1.weight' in state and has(keys, 'layer1.'):
        return 'torchvision'
    raise InitCheckpointError(f'{path}: unknown layout, found {found_modules(keys)}; '
                              f'{UNDERSTOOD}')


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


def describe_resnet(state, prefix='') -> str:
    """``'bottleneck blocks 3-4-6-3'``: what :func:`resnet_depth` read, for messages."""
    blocks = [len({k.split('.')[1] for k in state if k.startswith(f'{prefix}layer{s}.')})
              for s in range(1, 5)]
    kind = 'bottleneck' if f'{prefix}layer1.0.conv3.weight' in state else 'basic'
    return f'{kind} blocks {"-".join(map(str, blocks))}'


def selfsup_algorithm(keys) -> str:
    """``'MoCo'``, ``'BYOL'``, ...: what an mmselfsup checkpoint's extra modules say it is."""
    if has(keys, 'queue2'):
        return 'DenseCL'
    if has(keys, 'encoder_k.') and has(keys, 'queue'):
        return 'MoCo'
    if has(keys, 'momentum_encoder.'):
        return 'MoCo v3'
    if has(keys, 'target_net.') and has(keys, 'head.predictor.'):
        return 'BYOL'
    return 'backbone.* checkpoint'


def extra_reason(key: str) -> str:
    """Why a tensor of an mmselfsup checkpoint outside ``backbone.*`` is left out."""
    for prefix, why in SELFSUP_EXTRAS:
        if key.startswith(prefix):
            return why
    return 'no counterpart in SoCo'
