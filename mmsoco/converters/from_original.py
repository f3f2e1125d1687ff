"""Read the checkpoints released with the original SoCo code into mmsoco's SoCo layout.

The authors' ``main_pretrain.py`` saves ``dict(opt=<argparse.Namespace>, model=<DDP state dict>,
optimizer=..., scheduler=..., epoch=...)`` (and ``amp``, ``model_ema`` in some runs).  Keys of
``model`` carry DDP's ``module.`` prefix; ``model_ema``, when present, holds the same names
without it.  Its networks, and where each goes in :class:`mmsoco.models.SoCo`:

==================================  ===========================================================
original (online; target: ``*_k``)  mmsoco (online; target: ``target_net.module.*``)
==================================  ===========================================================
``encoder.*`` (torchvision ResNet)  ``backbone.*`` (same names); C4: ``encoder.layer4.*`` (res5,
                                    the RoI head) -> ``head.layer4.*``
``neck.*`` (mmdet FPN names, BN)    ``neck.*`` (``lateral_convs.{i}.conv/bn``, ``fpn_convs``)
``head.conv{i}`` / ``head.bn{i}``   ``head.shared_convs.{i-1}.conv`` / ``.bn`` (i = 1..4)
``head.fc1``                        ``head.shared_fcs.0`` (12544 -> 1024)
``projector.linear1/bn1/linear2``   ``projector.fc1/bn/fc2`` (``predictor`` alike, online only)
==================================  ===========================================================

The FPN variant (SoCo and SoCo*, which differ only in the views they train on) has ``neck`` and
``head``; the C4 variant has neither, a ResNet with ``layer4`` and a 2048-wide projector input,
plus MoCo's unused ``queue``/``queue_ptr`` buffers, which are left out.

The file is read with torch's weights-only unpickler.  Besides tensors and plain containers it
holds the training arguments as an :class:`argparse.Namespace`; exactly that type is
allow-listed, and a file that needs any other global is refused with its name.
"""
import argparse
import pickle
import re
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Tuple, Union

import torch
from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present

from .builder import build_soco_model  # noqa: F401  (where the tools and tests find it)
from .key_check import compare_state_dicts
from .key_rules import KeyTable
from .reading import SoCoCheckpointError, torch_load_weights_only
from .saving import save_conversion
from .soco_checkpoint import StateDict

#: The non-tensor types an original SoCo checkpoint holds (``opt``, the training arguments).
ORIGINAL_CHECKPOINT_GLOBALS = (argparse.Namespace, )
#: The networks of an original checkpoint a conversion can take.
ORIGINAL_SOURCES = ('online', 'target', 'ema')
ONLINE_MODULES = ('encoder', 'neck', 'head', 'projector', 'predictor')
TARGET_MODULES = ('encoder_k', 'neck_k', 'head_k', 'projector_k')
#: Buffers of the original C4 model that SoCo never uses (left over from MoCo's queue).
UNUSED = {'queue': 'MoCo negative queue, unused by SoCo', 'queue_ptr': 'MoCo queue pointer'}
#: The authors' ``opt.model`` for each variant, cross-checked against the keys when present.
ORIGINAL_MODELS = {'fpn': ('SoCo_FPN', 'SoCo_FPN_Star'), 'c4': ('SoCo_C4', )}
DEFAULT_CONFIGS = {  # the released models' own recipes (the model is the paper-text config's)
    'fpn': 'soco/soco_resnet50-fpn_16xb128-coslr-100e_in1k_original-recipe.py',
    'c4': 'soco/soco_resnet50-c4_16xb128-coslr-100e_in1k_original-recipe.py',
}


def load_original_checkpoint(path: str) -> dict:
    """Load an original SoCo checkpoint with torch's weights-only unpickler.

    Args:
        path (str): The ``.pth`` file (``ckpt_epoch_*.pth`` / ``current.pth`` of the release).

    Returns:
        dict: The checkpoint (``model``, and ``opt``, ``epoch``, ... where present).

    Raises:
        SoCoCheckpointError: If the file needs a global other than those in
            :data:`ORIGINAL_CHECKPOINT_GLOBALS`, or is not a dict with a ``model`` state dict.
    """
    try:
        with torch.serialization.safe_globals(list(ORIGINAL_CHECKPOINT_GLOBALS)):
            ckpt = torch_load_weights_only(path)
    except pickle.UnpicklingError as e:
        m = re.search(r'Unsupported global: GLOBAL (\S+)', str(e))
        what = f'it references {m.group(1)}' if m else str(e).splitlines()[0]
        allowed = ', '.join(f'{t.__module__}.{t.__qualname__}' for t in ORIGINAL_CHECKPOINT_GLOBALS)
        raise SoCoCheckpointError(
            f'{path}: refused by the weights-only loader: {what}. An original SoCo checkpoint '
            f'holds tensors, plain containers and {allowed} (the training arguments) only; '
            'nothing else is unpickled.') from None
    if not isinstance(ckpt, Mapping) or not isinstance(ckpt.get('model'), Mapping):
        found = sorted(ckpt) if isinstance(ckpt, Mapping) else type(ckpt).__name__
        raise SoCoCheckpointError(
            f"{path} is not an original SoCo checkpoint: expected a dict with 'model' (the DDP "
            f"state dict, keys 'module.encoder.*', ...), found {found}")
    return ckpt


def _module_of(key: str) -> Tuple[str, str]:
    head, _, rest = key.partition('.')
    return head, rest


class _Network(OrderedDict):
    """Online-style key (``encoder.conv1.weight``) -> tensor, remembering each original name."""

    def __init__(self):
        super().__init__()
        self.names = {}

    def add(self, key, original_name, value):
        self[key] = value
        self.names[key] = original_name


def without_ddp_prefix(state: Mapping) -> 'OrderedDict[str, Tuple[str, object]]':
    """``key -> (name in the file, value)``, keys without DDP's ``module.`` prefix (stripped by
    torch's ``consume_prefix_in_state_dict_if_present``), in the file's order."""
    named = OrderedDict((name, (name, value)) for name, value in state.items())
    consume_prefix_in_state_dict_if_present(named, 'module.')
    return named


def original_networks(ckpt: Mapping, source: str = 'online') -> Tuple[_Network, _Network]:
    """Pick the networks out of an original checkpoint.

    Args:
        ckpt (Mapping): The loaded checkpoint.
        source (str): Which network becomes mmsoco's online network: ``'online'`` (default; the
            network the paper transfers), ``'target'`` (the momentum network, ``*_k``) or
            ``'ema'`` (the online names in ``model_ema``).

    Returns:
        tuple: ``(chosen, target)``: the chosen network and the original target network
        (possibly empty), both under the online module names (``encoder.*``, ``neck.*``,
        ``head.*``, ``projector.*``, and ``predictor.*`` where the network has one); each
        remembers the names its tensors have in the file.
    """
    if source not in ORIGINAL_SOURCES:
        raise SoCoCheckpointError(f'source must be one of {ORIGINAL_SOURCES}, got {source!r}')
    online, target = _Network(), _Network()
    for key, (name, value) in without_ddp_prefix(ckpt['model']).items():
        module, rest = _module_of(key)
        if module in ONLINE_MODULES:
            online.add(key, name, value)
        elif module in TARGET_MODULES:
            target.add(f'{module[:-2]}.{rest}', name, value)
    if source == 'online':
        return online, target
    if source == 'target':
        if not target:
            raise SoCoCheckpointError("source='target' but the checkpoint has no target network "
                                      "(encoder_k.*); convert the online network instead")
        return target, target
    if not isinstance(ckpt.get('model_ema'), Mapping):
        raise SoCoCheckpointError(
            "source='ema' but the checkpoint has no 'model_ema'; the target (momentum) "
            "network is in 'model' as encoder_k.*, ...: use source='target'")
    ema = _Network()
    for key, (name, value) in without_ddp_prefix(ckpt['model_ema']).items():
        if _module_of(key)[0] in ONLINE_MODULES:
            ema.add(key, f'model_ema:{name}', value)
    return ema, target


def detect_original_variant(network: StateDict) -> str:
    """``'fpn'`` (SoCo, SoCo*) or ``'c4'``, read from the keys of one original network."""
    modules = Counter(_module_of(k)[0] for k in network)
    has_layer4 = any(k.startswith('encoder.layer4.') for k in network)
    if modules['encoder'] and modules['neck'] and modules['head'] and has_layer4:
        return 'fpn'
    if modules['encoder'] and has_layer4 and not modules['neck'] and not modules['head']:
        return 'c4'
    found = ', '.join(f'{m}.* ({n})' for m, n in sorted(modules.items())) or 'no keys'
    raise SoCoCheckpointError(
        'not an original SoCo checkpoint: expected encoder.* (ResNet-50 with layer4) with '
        'neck.* (FPN) and head.* (4conv1fc) for SoCo R50-FPN, or encoder.* alone for SoCo '
        f'R50-C4, each with projector.*; found {found}.')


#: mmsoco name <-> original name inside the FPN head, the neck and the two MLPs (the encoder's
#: ResNet names are the same; where its ``layer4`` goes depends on the variant).
ORIGINAL_NAMES = KeyTable((
    ('head.shared_convs.{i}.conv.{p}', 'head.conv{i+1}.{p}'),
    ('head.shared_convs.{i}.bn.{p}', 'head.bn{i+1}.{p}'),
    ('head.shared_fcs.{i}.{p}', 'head.fc{i+1}.{p}'),
    ('neck.{kind}.{j}.{part}.{p}', 'neck.{kind}.{j}.{part}.{p}'),
    ('{mlp}.fc1.{p}', '{mlp}.linear1.{p}'),
    ('{mlp}.bn.{p}', '{mlp}.bn1.{p}'),
    ('{mlp}.fc2.{p}', '{mlp}.linear2.{p}'),
), choices=dict(kind=('lateral_convs', 'fpn_convs'), part=('conv', 'bn'),
                mlp=('projector', 'predictor')))


def original_key_to_soco(key: str, variant: str) -> Optional[str]:
    """The mmsoco name of one key of an original network (online module names), or None.

    Args:
        key (str): e.g. ``'encoder.layer1.0.bn1.weight'``, ``'head.conv2.weight'``,
            ``'projector.linear1.bias'`` (target keys with ``_k`` removed).
        variant (str): ``'fpn'`` or ``'c4'`` (decides where ``encoder.layer4`` goes).

    Returns:
        str or None: e.g. ``'backbone.layer1.0.bn1.weight'``, ``'head.shared_convs.1.conv.weight'``,
        ``'projector.fc1.bias'``; None for a key mmsoco has no place for.
    """
    module, rest = _module_of(key)
    if module == 'encoder':
        if variant == 'c4' and rest.startswith('layer4.'):
            return 'head.' + rest
        return 'backbone.' + rest
    if module in ('neck', 'head') and variant != 'fpn':
        return None
    return ORIGINAL_NAMES.inverse(key)


def _group(name: str) -> str:
    """The module a key belongs to, for messages: ``module.encoder_k``, ``target_net.module.head``,
    ``model_ema:neck``, ``backbone``."""
    parts = name.split('.')
    depth = 3 if name.startswith('target_net.module.') else 2 if parts[0] == 'module' else 1
    return name if len(parts) <= depth else '.'.join(parts[:depth])


@dataclass
class OriginalConversion:
    """An original SoCo checkpoint in mmsoco's layout.

    Attributes:
        state_dict (OrderedDict): mmsoco SoCo names (online, ``target_net.module.*``,
            ``target_net.steps``) -> tensors.
        variant (str): ``'fpn'`` or ``'c4'``.
        source (str): The network that became the online network.
        mapped (list[tuple[str, str]]): ``(original key, mmsoco key)``.
        left_out (list[tuple[str, str]]): ``(original key, reason)``.
        notes (list[str]): What was filled in rather than converted.
        info (dict): What the checkpoint says about itself (``epoch``, ``opt.model``, ...).
    """

    state_dict: 'OrderedDict[str, torch.Tensor]'
    variant: str
    source: str
    mapped: List[Tuple[str, str]] = field(default_factory=list)
    left_out: List[Tuple[str, str]] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    info: Dict = field(default_factory=dict)
    #: The ``meta`` entry :func:`~.saving.save_conversion` writes :meth:`saved_info` under.
    META_KEY = 'converted_from_original_soco'

    def saved_info(self) -> dict:
        """What the saved file says about the conversion (plain types)."""
        return dict(variant=self.variant, source=self.source,
                    **{k.replace('.', '_'): v for k, v in self.info.items()})

    def summary(self, verbose: bool = False) -> str:
        """What was mapped, grouped by module (``verbose``: every key), and what was left out."""
        about = ', '.join(f'{k} {v}' for k, v in self.info.items())
        lines = [f'original SoCo R50-{self.variant.upper()} checkpoint' +
                 (f' ({about})' if about else '') + f', {self.source} network -> mmsoco SoCo']
        lines.append(f'mapped {len(self.mapped)} tensors:')
        if verbose:
            lines += [f'  {src} -> {dst}' for src, dst in self.mapped]
        else:
            groups = Counter((_group(src), _group(dst)) for src, dst in self.mapped)
            lines += [f'  {n:4d}  {a}.* -> {b}.*' for (a, b), n in groups.items()]
        lines.append(f'left out {len(self.left_out)} tensors:')
        if verbose:
            lines += [f'  {src}: {why}' for src, why in self.left_out]
        else:
            groups = Counter((_group(src), src == _group(src), why) for src, why in self.left_out)
            lines += [f'  {n:4d}  {a}{"" if whole else ".*"}: {why}'
                      for (a, whole, why), n in groups.items()]
        lines += [f'note: {note}' for note in self.notes]
        return '\n'.join(lines)


def convert_original_state(ckpt: Mapping, source: str = 'online') -> OriginalConversion:
    """Convert a loaded original checkpoint (see :func:`load_original_checkpoint`).

    The chosen network becomes mmsoco's online network.  The target network
    (``target_net.module.*``) is the original's ``*_k`` network when the file has it, so that
    pretraining can go on from it; otherwise a copy of the chosen network.  ``target_net.steps``
    is 1 when a target network was converted (the next update averages into it), 0 otherwise
    (the first update copies the online network, as at the start of a run).

    Returns:
        OriginalConversion
    """
    names = list(without_ddp_prefix(ckpt['model']))
    if any(k.startswith(('backbone.', 'target_net.')) for k in names):
        raise SoCoCheckpointError(
            'not an original SoCo checkpoint: it has backbone.* / target_net.* keys, so it looks '
            'like an mmsoco checkpoint already; use it as it is (soco2mmdet.py, load_from)')
    chosen, target = original_networks(ckpt, source)
    variant = detect_original_variant(chosen)
    info = OrderedDict()
    opt = ckpt.get('opt')
    model_name = getattr(opt, 'model', None) if isinstance(opt, argparse.Namespace) else None
    if model_name is not None:
        info['opt.model'] = model_name
        if model_name not in ORIGINAL_MODELS[variant]:
            raise SoCoCheckpointError(
                f'the weights are SoCo R50-{variant.upper()} but the training arguments say '
                f'model={model_name!r}; the file is inconsistent')
    if 'epoch' in ckpt:
        info['epoch'] = int(ckpt['epoch'])
    conv = OriginalConversion(OrderedDict(), variant, source, info=dict(info))
    used = set()

    def put(network, key, prefix=''):
        name = network.names[key]
        used.add(name)
        new = original_key_to_soco(key, variant)
        if new is None:
            conv.left_out.append((name, 'no counterpart in mmsoco SoCo'))
        else:
            conv.state_dict[prefix + new] = network[key].detach().clone()
            conv.mapped.append((name, prefix + new))

    for key in chosen:
        put(chosen, key)
    if not any(k.startswith('predictor.') for k in chosen):   # the target network has none
        online, _ = original_networks(ckpt, 'online')
        for key in [k for k in online if k.startswith('predictor.')]:
            put(online, key)
        conv.notes.append('the predictor (online network only) comes from the online network')
    if target:
        for key in target:
            put(target, key, prefix='target_net.module.')
    else:
        for key in [k for k in conv.state_dict if not k.startswith('predictor.')]:
            conv.state_dict['target_net.module.' + key] = conv.state_dict[key].clone()
        conv.notes.append('no target network in the file: target_net is a copy of the '
                          f'{source} network')
    steps = 1 if target else 0
    conv.state_dict['target_net.steps'] = torch.tensor(steps, dtype=torch.long)
    conv.notes.append(
        f'target_net.steps = {steps}: a run started from this file ' +
        ('averages into the converted target network' if steps else 'first copies the online '
         'network into the target') + '; its momentum schedule starts over (the original step '
        'count is not kept)')

    for key, (name, _) in without_ddp_prefix(ckpt['model']).items():
        if name in used:
            continue
        if key in UNUSED:
            why = UNUSED[key]
        elif _module_of(key)[0] in ONLINE_MODULES:
            why = f'online network (the {source} network was converted instead)'
        else:
            why = 'no counterpart in mmsoco SoCo'
        conv.left_out.append((name, why))
    if source != 'ema' and isinstance(ckpt.get('model_ema'), Mapping):
        conv.left_out += [(f'model_ema:{k}', "EMA copy (convert it with source='ema')")
                          for k in ckpt['model_ema']]
    return conv


def convert_original_checkpoint(src: Union[str, Mapping],
                                source: str = 'online') -> OriginalConversion:
    """Load (weights-only) and convert an original SoCo checkpoint.

    Args:
        src (str or Mapping): Path of the authors' ``.pth`` file, or the loaded dict.
        source (str): ``'online'`` (default), ``'target'`` or ``'ema'``.

    Returns:
        OriginalConversion
    """
    ckpt = load_original_checkpoint(src) if isinstance(src, str) else src
    return convert_original_state(ckpt, source)


def default_config(variant: str) -> str:
    """The shipped pretraining config whose model matches an original checkpoint's variant."""
    from mmsoco.utils.package_files import config_path
    return config_path(DEFAULT_CONFIGS[variant])


def load_into_model(conv: OriginalConversion, model: torch.nn.Module) -> None:
    """Load the converted state dict strictly: every key, every shape.

    Raises:
        SoCoCheckpointError: Naming the missing, unexpected and mismatched keys.
    """
    report = compare_state_dicts(conv.state_dict, model)
    if not report.ok:
        raise SoCoCheckpointError(
            f'the converted SoCo R50-{conv.variant.upper()} weights do not fit the config\'s '
            'model: ' + report.describe() + '. Use the pretraining config of the same '
            'variant and widths (configs/soco/).')
    model.load_state_dict(conv.state_dict, strict=True)


#: The name the tools know (:func:`~.saving.save_conversion`).
save_soco_checkpoint = save_conversion
