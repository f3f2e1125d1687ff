"""Convert a SoCo checkpoint into a Detectron2 weights pickle, as the original SoCo release did.

The pickle is ``dict(model={detectron2 name: numpy array}, __author__='mmsoco',
matching_heuristics=True)``.  With ``matching_heuristics`` Detectron2's checkpointer matches each
name to the model parameter it is a suffix of (``res2.0.conv1.weight`` ->
``backbone.bottom_up.res2.0.conv1.weight``, ``box_head.conv1.norm.weight`` ->
``roi_heads.box_head.conv1.norm.weight``, ``res5.*`` -> ``roi_heads.res5.*`` in a C4 model), so one
file serves the FPN and C4 meta-architectures.  Names:

=======================================  =============================================
SoCo                                     Detectron2
=======================================  =============================================
``backbone.conv1`` / ``backbone.bn1``    ``stem.conv1`` / ``stem.conv1.norm``
``backbone.layer{L}.{b}.conv{k}``        ``res{L+1}.{b}.conv{k}`` (``bn{k}`` -> ``conv{k}.norm``)
``...downsample.0`` / ``downsample.1``   ``...shortcut`` / ``shortcut.norm``
``neck.lateral_convs.{j}.conv``          ``fpn_lateral{j+2}`` (level number, so RetinaNet's
``neck.fpn_convs.{j}.conv``              ``fpn_output{j+2}``   P3-P5 pick their own levels)
``head.shared_convs.{i}.conv`` / ``bn``  ``box_head.conv{i+1}`` / ``box_head.conv{i+1}.norm``
``head.shared_fcs.{i}``                  ``box_head.fc{i+1}``
``head.layer4.*`` (C4)                   ``res5.*``
=======================================  =============================================

Fine-tune with ``MODEL.RESNETS.STRIDE_IN_1X1 False`` (pytorch-style ResNet), ``INPUT.FORMAT RGB``,
``MODEL.PIXEL_MEAN [123.675, 116.28, 103.53]`` and ``MODEL.PIXEL_STD [58.395, 57.12, 57.375]``
as the original configs did.
"""
import pickle
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Tuple, Union

import numpy as np
import torch

from .key_rules import KeyTable
from .reading import load_numpy_pickle
from .soco_checkpoint import (SoCoCheckpointError, check_variant, detect_variant,
                              load_soco_checkpoint, split_networks)

AUTHOR = 'mmsoco'
DETECTRON2_CONFIG_HINT = (
    'Detectron2 config: MODEL.WEIGHTS <this .pkl>, MODEL.RESNETS.STRIDE_IN_1X1 False, '
    'INPUT.FORMAT RGB, MODEL.PIXEL_MEAN [123.675, 116.28, 103.53], '
    'MODEL.PIXEL_STD [58.395, 57.12, 57.375]')


#: SoCo name <-> Detectron2 name, most specific rule first (``{net}`` is ``backbone`` or ``head``,
#: the owner of a ResNet stage: C4's res5 is ``head.layer4``).
D2_NAMES = KeyTable((
    ('backbone.bn1.{p}', 'stem.conv1.norm.{p}'),
    ('backbone.conv1.{p}', 'stem.conv1.{p}'),
    ('{net}.layer{s}.{b}.bn{k}.{p}', 'res{s+1}.{b}.conv{k}.norm.{p}'),
    ('{net}.layer{s}.{b}.downsample.1.{p}', 'res{s+1}.{b}.shortcut.norm.{p}'),
    ('{net}.layer{s}.{b}.downsample.0.{p}', 'res{s+1}.{b}.shortcut.{p}'),
    ('{net}.layer{s}.{b}.{p}', 'res{s+1}.{b}.{p}'),
    ('neck.lateral_convs.{j}.bn.{p}', 'fpn_lateral{j+2}.norm.{p}'),
    ('neck.lateral_convs.{j}.conv.{p}', 'fpn_lateral{j+2}.{p}'),
    ('neck.fpn_convs.{j}.bn.{p}', 'fpn_output{j+2}.norm.{p}'),
    ('neck.fpn_convs.{j}.conv.{p}', 'fpn_output{j+2}.{p}'),
    ('head.shared_convs.{i}.bn.{p}', 'box_head.conv{i+1}.norm.{p}'),
    ('head.shared_convs.{i}.conv.{p}', 'box_head.conv{i+1}.{p}'),
    ('head.shared_fcs.{i}.{p}', 'box_head.fc{i+1}.{p}'),
), choices={'net': ('backbone', 'head')})


def soco_key_to_detectron2(key: str) -> Optional[str]:
    """The Detectron2 name of one key of a SoCo network, or None if Detectron2 has no place."""
    return D2_NAMES.forward(key)


def detectron2_key_to_soco(key: str, variant: str) -> str:
    """Inverse of :func:`soco_key_to_detectron2` (``res5`` is ``head.layer4`` in the C4 variant).

    Raises:
        KeyError: A name no rule of :data:`D2_NAMES` writes.
    """
    def owner(fields):
        return dict(net='head' if variant == 'c4' and fields.get('s') == 4 else 'backbone')

    name = D2_NAMES.inverse(key, resolve=owner)
    if name is None:
        raise KeyError(f'{key!r} is not a name this converter writes')
    return name


def convert_to_detectron2(
        checkpoint: Union[str, Mapping],
        source: str = 'online',
        variant: Optional[str] = None) -> Tuple[Dict, List[Tuple[str, str]], List[str], str]:
    """Convert a SoCo checkpoint into the Detectron2 pickle payload.

    Args:
        checkpoint (str or Mapping): SoCo checkpoint (path or loaded).
        source (str): ``'online'`` (default) or ``'target'`` network.
        variant (str, optional): Expected variant; an error if the checkpoint is the other.

    Returns:
        tuple: ``(payload, mapped, left_out, variant)``: the dict to pickle, ``(soco key,
        detectron2 name)`` pairs, SoCo keys left out, and the variant found.
    """
    network, rest = split_networks(load_soco_checkpoint(checkpoint), source)
    found = detect_variant(network)
    check_variant(found, variant)
    model, mapped, left_out = OrderedDict(), [], list(rest)
    for key, value in network.items():
        name = soco_key_to_detectron2(key)
        if name is None:
            left_out.append(key)
            continue
        model[name] = value.detach().cpu().numpy()
        mapped.append((key, name))
    payload = dict(model=model, __author__=AUTHOR, matching_heuristics=True)
    return payload, mapped, left_out, found


def save_detectron2_pickle(payload: Dict, path: str) -> None:
    """Write the payload with :mod:`pickle`, the format Detectron2 reads for ``.pkl`` weights."""
    with open(path, 'wb') as f:
        pickle.dump(payload, f)


def detect_detectron2_variant(names) -> str:
    """``'fpn'`` when a Detectron2 SoCo pickle has FPN convs (``fpn_lateral*``), else ``'c4'``."""
    return 'fpn' if any(n.startswith('fpn_') for n in names) else 'c4'


def load_detectron2_pickle(path: str,
                           variant: Optional[str] = None) -> 'OrderedDict[str, torch.Tensor]':
    """Read a SoCo Detectron2 pickle back into SoCo names: one written by
    :func:`save_detectron2_pickle`, or one the SoCo authors released
    (``current_detectron2_Head.pkl``, ``current_detectron2_C4.pkl``).

    The file is read by :func:`.reading.load_numpy_pickle`, which unpickles numpy
    arrays and plain containers only (a ``.pkl`` from the internet runs no code).

    Args:
        path (str): The ``.pkl`` file.
        variant (str, optional): ``'fpn'`` or ``'c4'`` (decides whether ``res5`` is backbone or
            head). Defaults to None: ``'fpn'`` if the file has FPN convs, else ``'c4'``.

    Returns:
        OrderedDict[str, Tensor]: SoCo online-network names -> tensors.
    """
    try:
        payload = load_numpy_pickle(path)
    except pickle.UnpicklingError as e:
        raise SoCoCheckpointError(f'{path}: {e}') from None
    if not (isinstance(payload, dict) and isinstance(payload.get('model'), dict)
            and payload.get('matching_heuristics')):
        raise SoCoCheckpointError(
            f"{path} is not a Detectron2 weights pickle of SoCo (dict(model=<numpy arrays>, "
            "matching_heuristics=True), as mmsoco and the SoCo release write them)")
    variant = variant or detect_detectron2_variant(payload['model'])
    try:
        return OrderedDict((detectron2_key_to_soco(k, variant), torch.from_numpy(np.asarray(v)))
                           for k, v in payload['model'].items())
    except KeyError as e:
        raise SoCoCheckpointError(f'{path}: {e.args[0]}; expected the names of a SoCo '
                                  'backbone, FPN and box head (stem, res2-5, fpn_*, box_head)')
