"""Prepare a SoCo pretraining checkpoint for release, as OpenMMLab's publish step does
(``tools/publish_model.py``)."""
import hashlib
import os
import pickle

import torch

from mmsoco.utils import allow_mmengine_checkpoint_globals

from .reading import torch_load_weights_only, unpickling_reason

#: Prefix of every key of the target (momentum) network in a SoCo state dict: its modules
#: (``target_net.module.*``) and its EMA step counter (``target_net.steps``).
TARGET_NET_PREFIX = 'target_net.'


def publish_checkpoint(src: str, dst: str, keep_target: bool = False) -> str:
    """What OpenMMLab's publish step does, for a SoCo pretraining checkpoint.

    Keeps ``state_dict`` (the online network: backbone, neck, head, projector, predictor; the
    target network ``target_net.*`` only with ``keep_target``) and ``meta``; drops the optimizer
    state, the message hub, the schedulers and anything else a Runner saved for resuming.  Writes
    ``<dst without .pth>-<first 8 hex of its sha256>.pth``.

    Args:
        src (str): A Runner checkpoint (``epoch_100.pth``).
        dst (str): Output name, e.g. ``soco_resnet50-fpn_16xb128-coslr-100e_in1k_20261122.pth``.
        keep_target (bool): Keep the target network too. Defaults to False.

    Returns:
        str: The path written.

    Raises:
        ValueError: ``src`` is no readable Runner checkpoint (the message names it).
    """
    allow_mmengine_checkpoint_globals()
    try:   # a garbage or truncated file: SoCoCheckpointError (a ValueError) naming it
        ckpt = torch_load_weights_only(src)
    except pickle.UnpicklingError as e:
        raise ValueError(f'{src} is not a readable torch checkpoint (UnpicklingError: '
                         f'{unpickling_reason(e)})') from None
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get('state_dict'), dict):
        raise ValueError(f'{src} is not a Runner checkpoint (no state_dict)')
    state_dict = {k: v for k, v in ckpt['state_dict'].items()
                  if keep_target or not k.startswith(TARGET_NET_PREFIX)}
    published = {'state_dict': state_dict}
    if 'meta' in ckpt:
        published['meta'] = ckpt['meta']
    stem = dst[:-len('.pth')] if dst.endswith('.pth') else dst
    # not data_prep.atomic_write: the final name holds the digest of the bytes written, so the
    # file is written under a temporary name, hashed, then renamed
    tmp = stem + '.tmp.pth'
    os.makedirs(os.path.dirname(os.path.abspath(tmp)), exist_ok=True)
    torch.save(published, tmp)
    with open(tmp, 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    final = f'{stem}-{digest[:8]}.pth'
    os.replace(tmp, final)
    return final
