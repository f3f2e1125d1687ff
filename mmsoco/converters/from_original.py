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
import copy
import pickle
import re
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Tuple, Union

import torch

from .soco_checkpoint import SoCoCheckpointError, StateDict, torch_load_weights_only

#: The non-tensor types an original SoCo checkpoint holds (``opt``, the training arguments).
ORIGINAL_CHECKPOINT_GLOBALS = (argparse.Namespace, )
SOURCES = ('online', 'target', 'ema')
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
    if source not in SOURCES:
        raise SoCoCheckpointError(f'source must be one of {SOURCES}, got {source!r}')
    online, target = _Network(), _Network()
    for name, value in ckpt['model'].items():
        key = name[len('module.'):] if name.startswith('module.') else name
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
    for name, value in ckpt['model_ema'].items():
        key = name[len('module.'):] if name.startswith('module.') else name
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


def _head_key(rest: str) -> Optional[str]:
    m = re.match(r'^(conv|bn)([1-9])\.(.+)$', rest)
    if m:
        part = 'conv' if m.group(1) == 'conv' else 'bn'
        return f'shared_convs.{int(m.group(2)) - 1}.{part}.{m.group(3)}'
    m = re.match(r'^fc([1-9])\.(.+)$', rest)
    if m:
        return f'shared_fcs.{int(m.group(1)) - 1}.{m.group(2)}'
    return None


_MLP = {'linear1': 'fc1', 'bn1': 'bn', 'linear2': 'fc2'}


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
    if module == 'neck' and variant == 'fpn':
        return 'neck.' + rest if re.match(r'^(lateral|fpn)_convs\.\d+\.(conv|bn)\.', rest) \
            else None
    if module == 'head' and variant == 'fpn':
        new = _head_key(rest)
        return 'head.' + new if new else None
    if module in ('projector', 'predictor'):
        layer, _, param = rest.partition('.')
        return f'{module}.{_MLP[layer]}.{param}' if layer in _MLP else None
    return None


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
    names = [k[len('module.'):] if k.startswith('module.') else k for k in ckpt['model']]
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

    for name in ckpt['model']:
        if name in used:
            continue
        key = name[len('module.'):] if name.startswith('module.') else name
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


def build_soco_model(config) -> torch.nn.Module:
    """Build the SoCo model of a pretraining config (weights initialised, nothing loaded).

    Args:
        config (str or Config): A pretraining config (path or loaded), e.g. :func:`default_config`.
    """
    import mmsoco  # noqa: F401  (registers SoCo)
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmselfsup.registry import MODELS

    cfg = Config.fromfile(config) if isinstance(config, str) else config
    with DefaultScope.overwrite_default_scope('mmselfsup'):
        return MODELS.build(copy.deepcopy(cfg.model))


def load_into_model(conv: OriginalConversion, model: torch.nn.Module) -> None:
    """Load the converted state dict strictly: every key, every shape.

    Raises:
        SoCoCheckpointError: Naming the missing, unexpected and mismatched keys.
    """
    model_sd = model.state_dict()
    missing = [k for k in model_sd if k not in conv.state_dict]
    unexpected = [k for k in conv.state_dict if k not in model_sd]
    mismatched = [f'{k} {tuple(v.shape)} vs {tuple(model_sd[k].shape)}'
                  for k, v in conv.state_dict.items()
                  if k in model_sd and v.shape != model_sd[k].shape]
    if missing or unexpected or mismatched:
        def show(keys):
            return ', '.join(keys[:6]) + (f' ... ({len(keys)} in all)' if len(keys) > 6 else '')
        problems = [f'{name}: {show(keys)}' for name, keys in
                    (('missing', missing), ('not in the model', unexpected),
                     ('shape mismatch', mismatched)) if keys]
        raise SoCoCheckpointError(
            f'the converted SoCo R50-{conv.variant.upper()} weights do not fit the config\'s '
            'model: ' + '; '.join(problems) + '. Use the pretraining config of the same '
            'variant and widths (configs/soco/).')
    model.load_state_dict(conv.state_dict, strict=True)


def save_soco_checkpoint(conv: OriginalConversion, path: str, meta: Optional[dict] = None) -> None:
    """Save as an mmengine-style checkpoint ``{'state_dict', 'meta'}`` (plain types only, so it
    loads weights-only; ``load_from``, ``soco2mmdet.py`` and ``soco2detectron2.py`` read it)."""
    info = dict(variant=conv.variant, source=conv.source,
                **{k.replace('.', '_'): v for k, v in conv.info.items()})
    torch.save({'state_dict': conv.state_dict,
                'meta': dict(converted_from_original_soco=info, **(meta or {}))}, path)
