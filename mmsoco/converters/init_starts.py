"""Where each pretraining algorithm keeps what a start checkpoint fills (:class:`StartLayout`).

=====================  ========================  =============================================
model                  ResNet                    momentum copies (written as the online tensors)
=====================  ========================  =============================================
SoCo                   ``backbone.*``            ``target_net.module.*`` (every online module)
PLR                    ``backbone.backbone.*``   none
EDMoCo (any MoCo),     ``backbone[.backbone].*`` ``encoder_k.module.0.*`` (backbone),
PatchMoCo, PatchEDMoCo                           ``encoder_k.module.1.*`` (neck)
BYOL (mmselfsup)       ``backbone.*``            ``target_net.module.0.*``, ``.1.*``
=====================  ========================  =============================================

A model whose ``backbone`` is a :class:`~mmsoco.models.PretextEncoderDecoder` keeps its ResNet
in ``backbone.backbone``; its decoder (``backbone.decode_head``) is never in a source, so it
starts fresh, and the summary says so.  A model with a momentum network this table does not
know is refused: its copies could not be written.
"""
from collections import OrderedDict
from dataclasses import dataclass
from typing import Mapping, Tuple

import torch

from .init_layouts import InitCheckpointError
from .soco_checkpoint import TARGET_MODULE_PREFIX, StateDict

#: The online modules of a SoCo model, in the order they are reported.
SOCO_MODULES = ('backbone', 'neck', 'head', 'projector', 'predictor')


@dataclass(frozen=True)
class StartLayout:
    """Where a pretraining model keeps what a start checkpoint fills.

    Args:
        name (str): The model, for messages (``'SoCo'``).
        copies (tuple[tuple[str, str]]): ``(online prefix, momentum prefix)``: each converted
            tensor under the online prefix is copied to the momentum prefix (SoCo: every online
            module to ``target_net.module.``).
        online_only (tuple[str]): Online prefixes without a momentum copy (SoCo's predictor).
        counters (tuple[str]): Step counters written as 0 (``target_net.steps``).
        modules (tuple[str]): Top-level online modules in report order; others follow in the
            model's order.
        soco_modules (bool): Whether a SoCo source gives all its online modules (True) or only
            its ResNet (the model is not SoCo).
        copy_name (str): The momentum network, for the summary.
        note (str): The summary's line on the momentum copies.
        resnet_prefix (str): Where the model's ResNet is (``'backbone.'``; an encoder-decoder's:
            ``'backbone.backbone.'``).
        fresh_note (str): A summary line on what the source never provides (a new decoder).
    """

    name: str = 'SoCo'
    copies: Tuple[Tuple[str, str], ...] = (('', TARGET_MODULE_PREFIX), )
    online_only: Tuple[str, ...] = ('predictor.', )
    counters: Tuple[str, ...] = ('target_net.steps', )
    modules: Tuple[str, ...] = SOCO_MODULES
    soco_modules: bool = True
    copy_name: str = 'target_net'
    note: str = ('target_net: a copy of the online modules above, steps = 0 (the momentum '
                 'schedule starts at its base value)')
    resnet_prefix: str = 'backbone.'
    fresh_note: str = ''

    def momentum_copies(self, state: Mapping[str, torch.Tensor]) -> StateDict:
        """The momentum network's copy of the online tensors of ``state``, and the counters."""
        copies = OrderedDict()
        for key, value in state.items():
            if key.startswith(self.online_only):
                continue
            for online, momentum in self.copies:
                if key.startswith(online):
                    copies[momentum + key[len(online):]] = value.clone()
        copies.update((k, torch.zeros((), dtype=torch.long)) for k in self.counters)
        return copies


SOCO_START = StartLayout()


DECODER_FRESH = ('backbone.decode_head: the decoder starts fresh (the source has none; the '
                 'pretext task trains it)')


def _resnet_prefix(model: torch.nn.Module) -> str:
    from mmsoco.models.backbones import PretextEncoderDecoder
    if isinstance(getattr(model, 'backbone', None), PretextEncoderDecoder):
        return 'backbone.backbone.'
    return 'backbone.'


def start_layout_for(model: torch.nn.Module) -> StartLayout:
    """The :class:`StartLayout` of a pretraining model (built from its config).

    Raises:
        InitCheckpointError: The model has a momentum network of an unknown kind.
    """
    from mmengine.model import BaseAveragedModel

    from mmsoco.host import BYOL, MoCo

    from mmsoco.models.algorithms import PatchMoCo

    name = type(model).__name__
    if name == 'SoCo':
        return SOCO_START
    prefix = _resnet_prefix(model)
    fresh = DECODER_FRESH if prefix != 'backbone.' else ''
    if isinstance(model, (MoCo, PatchMoCo)):   # PatchMoCo keeps MoCo's encoder_k
        return StartLayout(
            name, copies=(('backbone.', 'encoder_k.module.0.'), ('neck.', 'encoder_k.module.1.')),
            online_only=(), counters=('encoder_k.steps', ), modules=('backbone', 'neck', 'head'),
            soco_modules=False, copy_name='encoder_k', resnet_prefix=prefix, fresh_note=fresh,
            note='encoder_k: the key encoder, a copy of the query encoder above (key = query at '
                 'step 0), steps = 0; the queues start as the model makes them (random keys)')
    if isinstance(model, BYOL):
        return StartLayout(
            name, copies=(('backbone.', 'target_net.module.0.'), ('neck.', 'target_net.module.1.')),
            online_only=(), counters=('target_net.steps', ), modules=('backbone', 'neck', 'head'),
            soco_modules=False, resnet_prefix=prefix, fresh_note=fresh)
    averaged = [n for n, m in model.named_modules() if isinstance(m, BaseAveragedModel)]
    if averaged:
        raise InitCheckpointError(
            f'{name} keeps a momentum network ({", ".join(averaged)}) that the start converter '
            'does not know how to fill: add its StartLayout to mmsoco/converters/init_starts.py')
    return StartLayout(name, copies=(), online_only=(), counters=(), modules=('backbone', ),
                       soco_modules=False, copy_name='no momentum network',
                       note='no momentum network', resnet_prefix=prefix, fresh_note=fresh)
