"""Read a SoCo checkpoint: pick the online or target network and tell the FPN and C4 variants apart.

A SoCo checkpoint is what the mmengine Runner saves while pretraining :class:`mmsoco.models.SoCo`:
a dict with ``state_dict``, ``meta``, ``message_hub``, ``optimizer``, ...  Its ``state_dict`` holds

* the online network: ``backbone.*`` (ResNet-50, mmdet/mmcls parameter names), ``neck.*``
  (mmdet ``FPN`` on C2-C5 with ``start_level=0``: ``lateral_convs.{0..3}`` and ``fpn_convs.{0..3}``
  are P2..P5; FPN variant only), ``head.*`` (:class:`mmsoco.models.heads.RCNNHead`,
  ``shared_convs.{0..3}`` + ``shared_fcs.0``, FPN variant; or the res5 stage ``head.layer4.*``,
  C4 variant), ``projector.*`` and ``predictor.*``;
* the target network: ``target_net.module.{backbone,neck,head,projector}.*`` and the EMA step
  counter ``target_net.steps``.

The variant is read from the keys alone (``meta`` may hold the config text; it is not trusted).
"""
import pickle
import re
from collections import Counter, OrderedDict
from typing import Dict, List, Mapping, Tuple, Union

import torch

from mmsoco.utils import allow_mmengine_checkpoint_globals

from .reading import SoCoCheckpointError, torch_load_weights_only, unpickling_reason

#: Prefix of the target network's modules (``backbone``, ``neck``, ...) in a SoCo state dict;
#: ``target_net.steps`` is outside it (see :data:`.publish.TARGET_NET_PREFIX`).
TARGET_MODULE_PREFIX = 'target_net.module.'
VARIANTS = ('fpn', 'c4')
#: The networks of an mmsoco checkpoint a converter can take.
SOCO_SOURCES = ('online', 'target')

#: What each variant must contain (prefixes of the chosen network's keys).
REQUIRED_PREFIXES = {
    'fpn': ('backbone.', 'neck.lateral_convs.', 'neck.fpn_convs.', 'head.shared_convs.',
            'head.shared_fcs.'),
    'c4': ('backbone.', 'head.layer4.'),
}

EXPECTED_LAYOUT = (
    "a SoCo checkpoint holds 'backbone.*' plus either 'neck.lateral_convs.*', "
    "'neck.fpn_convs.*' and 'head.shared_convs.*'/'head.shared_fcs.*' (SoCo R50-FPN, "
    "also SoCo*) or 'head.layer4.*' and no neck (SoCo R50-C4), next to 'projector.*', "
    "'predictor.*' and the target network 'target_net.module.*'")


#: what to run on a checkpoint of the authors' release before any other converter
ORIGINAL_HINT = ('it looks like a checkpoint of the original SoCo release (training arguments, '
                 "'model': 'module.encoder.*', ...); convert it first with "
                 'tools/model_converters/original2soco.py {path} soco.pth, then convert soco.pth')


StateDict = Dict[str, torch.Tensor]


def load_soco_checkpoint(checkpoint: Union[str, Mapping]) -> StateDict:
    """Load the state dict of a SoCo checkpoint.

    Args:
        checkpoint (str or Mapping): Path to a ``.pth`` file saved by the mmengine Runner, or the
            loaded object (a Runner checkpoint dict, or a bare state dict).

    Returns:
        dict[str, Tensor]: The full state dict, online and target networks included.

    Raises:
        SoCoCheckpointError: If the file holds no state dict of tensors.
    """
    name = checkpoint if isinstance(checkpoint, str) else '<checkpoint>'
    if isinstance(checkpoint, str):
        # Runner checkpoints carry numpy scalars in message_hub/meta: allow-list exactly those
        # types instead of switching weights-only loading off (see mmsoco.utils.checkpoint).
        allow_mmengine_checkpoint_globals()
        try:
            checkpoint = torch_load_weights_only(checkpoint)
        except pickle.UnpicklingError as e:
            if 'argparse.Namespace' in str(e):   # the authors' files store their ``opt``
                raise SoCoCheckpointError(f'{name}: ' + ORIGINAL_HINT.format(path=name)) from None
            m = re.search(r'GLOBAL (\S+)', str(e))
            if m:
                raise SoCoCheckpointError(
                    f'{name}: refused by the weights-only loader (it references {m.group(1)}); '
                    'a SoCo checkpoint holds tensors and plain containers') from None
            raise SoCoCheckpointError(f'{name} is not a readable torch checkpoint (UnpicklingError'
                                      f': {unpickling_reason(e)}); is the file complete?') from None
    if isinstance(checkpoint, Mapping) and 'state_dict' not in checkpoint and isinstance(
            checkpoint.get('model'), Mapping) and any(
                str(k).startswith(('module.encoder.', 'encoder.')) for k in checkpoint['model']):
        raise SoCoCheckpointError(f'{name}: ' + ORIGINAL_HINT.format(path=name))
    if not isinstance(checkpoint, Mapping):
        raise SoCoCheckpointError(f'{name} is not a checkpoint dict (got {type(checkpoint)}); '
                                  f'expected {EXPECTED_LAYOUT}')
    state_dict = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state_dict, Mapping) or not state_dict or not all(
            isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise SoCoCheckpointError(f'{name} holds no state dict of tensors; '
                                  f'expected {EXPECTED_LAYOUT}')
    return OrderedDict(state_dict)


def split_networks(state_dict: StateDict, source: str = 'online') -> Tuple[StateDict, StateDict]:
    """Select one network of a SoCo state dict.

    Args:
        state_dict (dict[str, Tensor]): Full SoCo state dict.
        source (str): ``'online'`` (default; the network the paper transfers) or ``'target'``
            (the momentum-averaged network).

    Returns:
        tuple[dict, dict]: ``(network, rest)``: the selected network with the
        ``target_net.module.`` prefix removed (so both sources share the online names), and every
        other entry under its original name.
    """
    if source not in SOCO_SOURCES:
        raise SoCoCheckpointError(f"source must be one of {SOCO_SOURCES}, got {source!r}")
    network, rest = OrderedDict(), OrderedDict()
    for key, value in state_dict.items():
        if source == 'target':
            if key.startswith(TARGET_MODULE_PREFIX):
                network[key[len(TARGET_MODULE_PREFIX):]] = value
            else:
                rest[key] = value
        elif key.startswith('target_net.'):
            rest[key] = value
        else:
            network[key] = value
    if source == 'target' and not network:
        raise SoCoCheckpointError(
            f"source='target' but the checkpoint has no '{TARGET_MODULE_PREFIX}*' keys; "
            "convert the online network (the default) instead")
    return network, rest


def source_key(key: str, source: str) -> str:
    """The checkpoint name of a key of the network :func:`split_networks` selected."""
    return key if source == 'online' else TARGET_MODULE_PREFIX + key


def map_network(conv, network: StateDict, rest: Mapping, map_key, source: str):
    """Fill a converter's record from one selected network.

    Args:
        conv: A conversion record with ``state_dict``, ``mapped`` and ``left_out`` lists.
        network (dict[str, Tensor]): The network :func:`split_networks` selected.
        rest (dict): The entries it did not select (listed as left out, with their reason).
        map_key (callable): ``key -> (new_key or None, rule)``.
        source (str): ``'online'`` or ``'target'``, for the names in the record.

    Returns:
        The same ``conv``, filled: mapped tensors are detached copies.
    """
    for key, value in network.items():
        new_key, rule = map_key(key)
        if new_key is None:
            conv.left_out.append((source_key(key, source), rule))
        else:
            conv.state_dict[new_key] = value.detach().clone()
            conv.mapped.append((source_key(key, source), new_key, rule))
    conv.left_out += other_network_reasons(rest)
    return conv


def other_network_reasons(rest: Mapping) -> List[Tuple[str, str]]:
    """``(key, reason)`` for the entries :func:`split_networks` did not select, for a
    converter's ``left_out`` list."""
    reasons = []
    for key in rest:
        if key == 'target_net.steps':
            why = 'EMA step counter of the target network'
        elif key.startswith('target_net.'):
            why = "target network (convert it instead with source='target')"
        else:
            why = 'online network (converting the target network)'
        reasons.append((key, why))
    return reasons


def key_group(key: str) -> str:
    """A short module prefix for messages: ``neck.lateral_convs``, ``target_net.module.head``
    (a top-level buffer such as ``target_net.steps`` is its own group)."""
    parts = key.split('.')
    if key.startswith('target_net.') and not key.startswith(TARGET_MODULE_PREFIX):
        return key
    depth = 3 if key.startswith(TARGET_MODULE_PREFIX) else 2 if parts[0] in ('neck', 'head') else 1
    return '.'.join(parts[:min(depth, len(parts) - 1)] or parts[:1])


def _prefix_counts(keys) -> str:
    counts = Counter(key_group(k) for k in keys)
    return ', '.join(f'{group_label(p, keys)} ({n})' for p, n in sorted(counts.items()))


def group_label(group: str, keys) -> str:
    """``group.*``, or the key itself when the group is a single top-level tensor."""
    return group if group in keys else group + '.*'


def detect_variant(network: StateDict) -> str:
    """Tell the SoCo variant from the keys of one network.

    Args:
        network (dict[str, Tensor]): One network, as returned by :func:`split_networks`.

    Returns:
        str: ``'fpn'`` (SoCo and SoCo* R50-FPN) or ``'c4'`` (SoCo R50-C4).

    Raises:
        SoCoCheckpointError: If the keys match neither variant; the message lists what was
            expected and what was found.
    """
    keys = list(network)

    def has(prefix):
        return any(k.startswith(prefix) for k in keys)

    for variant in VARIANTS:
        if all(has(p) for p in REQUIRED_PREFIXES[variant]):
            if variant == 'c4' and has('neck.'):
                break  # both a neck and res5 as head: not a layout SoCo writes
            return variant
    hint = ''
    if has('roi_head.') or has('rpn_head.'):
        hint = ' It looks like an MMDetection checkpoint already (roi_head/rpn_head keys).'
    elif has('encoder.') or has('module.encoder.'):
        hint = (' It looks like a checkpoint of the original SoCo code (encoder.*); convert it '
                'with tools/model_converters/original2soco.py first.')
    elif has('backbone.') and not has('neck.lateral_convs.') and not has('head.'):
        hint = ' It looks like a backbone-only checkpoint (image-level pretraining?).'
    raise SoCoCheckpointError(
        f'not a SoCo checkpoint: {EXPECTED_LAYOUT}; found {_prefix_counts(keys) or "no keys"}.'
        + hint)


def check_variant(found: str, expected: str, what: str = '--variant') -> None:
    """Raise a clear error when the checkpoint's variant is not the one asked for."""
    if expected is None or expected == found:
        return
    if expected not in VARIANTS:
        raise SoCoCheckpointError(f'variant must be one of {VARIANTS}, got {expected!r}')
    describe = {
        'fpn': "SoCo R50-FPN checkpoint (backbone + 'neck.*' FPN + 4conv1fc 'head.shared_*')",
        'c4': "SoCo R50-C4 checkpoint (3-stage backbone + res5 'head.layer4.*', no neck)",
    }
    raise SoCoCheckpointError(
        f'{what} expects a {describe[expected]}, but this is a {describe[found]}. '
        f'Pretrain with the {expected.upper()} config, or fine-tune this checkpoint with an '
        f'R50-{found.upper()} transfer config.')
