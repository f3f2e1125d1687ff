"""The encoder-decoder of a dense pretext checkpoint (PLR, EDMoCo, PLEDMoCo) as an mmseg start.

The algorithms' ``backbone`` is a :class:`~mmsoco.models.PretextEncoderDecoder`, whose state dict
has the segmenter's names, so the mapping only drops one level:

=====================================  ================================================
pretext checkpoint                     MMSegmentation
=====================================  ================================================
``backbone.backbone.*``                ``backbone.*`` (mmseg ``ResNet``)
``backbone.decode_head.*``             ``decode_head.*`` (the same head type)
``backbone.decode_head.conv_seg.*``    left out: PLR's 4-angle classifier
``encoder_k.*``, ``*queue*``           left out: MoCo's key encoder and queues (EDMoCo,
                                       PatchEDMoCo)
``neck.*``, ``head.*``                 left out: the pretext task's projector / head
=====================================  ================================================

The segmenter's classifier (``conv_seg``, its classes) and auxiliary head start fresh.  With a
config, every ``backbone.*`` and ``decode_head.*`` tensor of its segmenter (the classifier aside)
must come from the checkpoint with the same shape; a config whose decode head is another type is
refused in one line.
"""
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import List, Mapping, Optional, Tuple, Union

import torch

from .key_check import compare_state_dicts
from .soco_checkpoint import SoCoCheckpointError, StateDict

ENCODER = 'backbone.backbone.'
DECODER = 'backbone.decode_head.'
CLASSIFIER = 'backbone.decode_head.conv_seg.'
#: EDMoCo's key encoder (``--source target``): mmselfsup MoCo's EMA of (backbone, neck).
KEY_ENCODER = 'encoder_k.module.0.'
#: A decode head type, told by the submodule names only it has (checked in this order).
HEAD_SIGNATURES = (('c1_bottleneck.', 'DepthwiseSeparableASPPHead'), ('nl_block.', 'NLHead'),
                   ('psp_modules.', 'PSPHead'), ('aspp_modules.', 'ASPPHead'),
                   ('convs.', 'FCNHead'))
#: Why the rest of a pretext checkpoint is left out, by key prefix.
LEFT_OUT = (
    (CLASSIFIER, "the pretext task's classifier (PLR: 4 rotation angles); the segmenter's "
                 'classifier has its own classes and starts fresh'),
    ('encoder_k.', "MoCo's key (momentum) encoder"),
    ('target_net.', 'the momentum (target) network'),
    ('queue', "MoCo's negative queue"),
    ('cell_queue.', "patch-level MoCo's queue of key cells (PatchEDMoCo)"),
    ('global_queue.', "patch-level MoCo's image-level queue (PatchEDMoCo)"),
    ('neck.', "the pretext task's projector (pooled decoder output -> 128)"),
    ('head.', "the pretext task's head"),
)


def is_dense_pretext(state_dict: Mapping) -> bool:
    """Whether a state dict is a dense pretext algorithm's (an encoder-decoder as ``backbone``)."""
    return any(k.startswith(ENCODER) for k in state_dict) and \
        any(k.startswith(DECODER) for k in state_dict)


def decoder_type(keys) -> str:
    """The mmseg decode head type that ``decode_head.*`` keys (any prefix) belong to."""
    parts = {k.split('decode_head.', 1)[1] for k in keys if 'decode_head.' in k}
    for marker, name in HEAD_SIGNATURES:
        if any(p.startswith(marker) for p in parts):
            return name
    return 'unknown'


def _group(key: str) -> str:
    """``encoder_k.*``, ``backbone.decode_head.conv_seg.*``, ``queue*``: a left-out key's group."""
    prefix = next((p for p, _ in LEFT_OUT if key.startswith(p)), None)
    return prefix + '*' if prefix else key


def _type_name(cfg) -> str:
    return str(cfg.get('type', '')).split('.')[-1] if isinstance(cfg, Mapping) else ''


@dataclass
class DecoderConversion:
    """A dense pretext checkpoint converted for an MMSegmentation segmentor.

    Attributes:
        state_dict (OrderedDict): mmseg names (``backbone.*``, ``decode_head.*``) -> tensors.
        decoder (str): The decode head type the checkpoint pretrained.
        mapped (list[tuple[str, str]]): ``(pretext key, mmseg key)``.
        left_out (list[tuple[str, str]]): ``(pretext key, reason)``.
    """

    state_dict: 'OrderedDict[str, torch.Tensor]'
    decoder: str
    mapped: List[Tuple[str, str]] = field(default_factory=list)
    left_out: List[Tuple[str, str]] = field(default_factory=list)
    source: str = 'online'
    #: The ``meta`` entry :func:`~.saving.save_conversion` writes :meth:`saved_info` under.
    META_KEY = 'dense_pretext_transfer'

    def saved_info(self) -> dict:
        """What the saved file says about the conversion (plain types)."""
        backbone, head = self.counts
        return dict(decoder=self.decoder, source=self.source, backbone_tensors=backbone,
                    decode_head_tensors=head)

    @property
    def counts(self) -> Tuple[int, int]:
        """``(backbone tensors, decode head tensors)`` written."""
        n = sum(dst.startswith('backbone.') for _, dst in self.mapped)
        return n, len(self.mapped) - n

    def summary(self, verbose: bool = False) -> str:
        """What was mapped and what was left out, grouped (``verbose``: every mapped key)."""
        backbone, head = self.counts
        lines = [f'dense pretext checkpoint (encoder-decoder with {self.decoder}), {self.source} '
                 'network -> an mmseg segmentor with the same decode head',
                 f'mapped {len(self.mapped)} tensors:']
        if verbose:
            lines += [f'  {src} -> {dst}' for src, dst in self.mapped]
        else:
            lines += [f'  {backbone:4d}  backbone.* (the ResNet)',
                      f'  {head:4d}  decode_head.* (the {self.decoder} decoder)']
        lines.append(f'left out {len(self.left_out)} tensors:')
        groups = Counter((_group(src), why) for src, why in self.left_out)
        lines += [f'  {n:4d}  {group}: {why}' for (group, why), n in groups.items()]
        lines.append('freshly initialised in the segmentor: the classifier (decode_head.conv_seg) '
                     'and the auxiliary head (if any)')
        return '\n'.join(lines)


def convert_dense_state_dict(state_dict: StateDict, source: str = 'online') -> DecoderConversion:
    """Convert a PLR/EDMoCo state dict (an mmsoco Runner's ``state_dict``) for mmseg.

    Args:
        state_dict (dict[str, Tensor]): The pretext model's state dict.
        source (str): ``'online'`` (the query encoder-decoder, default) or ``'target'`` (EDMoCo's
            key encoder, ``encoder_k.module.0.*``).

    Raises:
        SoCoCheckpointError: The state dict holds no encoder-decoder (or no key encoder).
    """
    if not is_dense_pretext(state_dict):
        raise SoCoCheckpointError(
            'not a dense pretext checkpoint: expected backbone.backbone.* and '
            'backbone.decode_head.* (PatchRotation, EDMoCo, PatchEDMoCo)')
    net = 'backbone.' if source == 'online' else KEY_ENCODER
    if source != 'online' and not any(k.startswith(KEY_ENCODER + 'backbone.') for k in state_dict):
        raise SoCoCheckpointError('--source target converts the key encoder of EDMoCo '
                                  '(encoder_k.module.0.*); this checkpoint has none (PLR): '
                                  'convert the online network')
    conv = DecoderConversion(OrderedDict(), decoder=decoder_type(state_dict), source=source)
    for key, value in state_dict.items():
        why = None if key.startswith(net) and not key.startswith(net + 'decode_head.conv_seg.') \
            else next((w for prefix, w in LEFT_OUT if key.startswith(prefix)), None)
        if why is None and key.startswith(net + 'backbone.'):
            new = 'backbone.' + key[len(net + 'backbone.'):]
        elif why is None and key.startswith(net + 'decode_head.'):
            new = 'decode_head.' + key[len(net + 'decode_head.'):]
        else:
            if why is None:
                why = ('the query encoder-decoder (--source online converts it)' if
                       key.startswith('backbone.') else 'not part of the encoder-decoder')
            conv.left_out.append((key, why))
            continue
        conv.state_dict[new] = value.detach().clone()
        conv.mapped.append((key, new))
    return conv


def config_decoder(cfg) -> str:
    """The decode head type of a segmentation config (scope prefix dropped)."""
    return _type_name(cfg['model'].get('decode_head'))


def decoder_mismatch(conv: DecoderConversion, cfg) -> Optional[str]:
    """One line when the config's decode head is not the pretrained one, else None."""
    theirs = config_decoder(cfg)
    if theirs == conv.decoder:
        return None
    return (f'the checkpoint pretrained a {conv.decoder} decoder but the config\'s decode head is '
            f'{theirs or "missing"}: use a segmentation config with a {conv.decoder} head '
            f'(configs/segmentation), or leave --config out and load only the backbone')


def check_decoder_against_segmentor(conv: DecoderConversion, cfg,
                                    segmentor: Union[torch.nn.Module, Mapping]):
    """Every ``backbone.*`` and ``decode_head.*`` tensor of the segmentor, the classifier aside,
    comes from the checkpoint with the same shape, and nothing else is written.

    Raises:
        SoCoCheckpointError: Another decode head type, or the key lists that differ.
    """
    why = decoder_mismatch(conv, cfg)
    if why is not None:
        raise SoCoCheckpointError(why)
    report = compare_state_dicts(conv.state_dict, segmentor, scopes=('backbone.', 'decode_head.'),
                                 fresh=lambda k: k.startswith('decode_head.conv_seg.'))
    if not report.ok:
        raise SoCoCheckpointError(
            f'the pretrained encoder-decoder ({conv.decoder}) does not fit the segmentor of the '
            'config: ' + report.describe(('missing from the checkpoint', 'not in the segmentor',
                                          'shape mismatch')) +
            '. The config must build the pretext config\'s backbone and decode head (depth, '
            'channels, dilations)')
    return report


def convert_dense_checkpoint(state_dict: StateDict, src, dst: Optional[str] = None,
                             source: str = 'online', config=None) -> DecoderConversion:
    """What :func:`~.to_mmseg.convert_soco_checkpoint` does for a dense pretext checkpoint
    (after checking that ``config`` has a plain-stem ResNet and no neck): convert, check against
    ``config``'s segmentor (same decode head, strict) and save.

    Raises:
        SoCoCheckpointError: Another decode head in the config, or tensors that do not fit.
    """
    from .builder import build_segmentor
    from .saving import save_conversion

    conv = convert_dense_state_dict(state_dict, source)
    if config is not None:
        why = decoder_mismatch(conv, config)   # before the segmentor is built
        if why is not None:
            raise SoCoCheckpointError(why)
        check_decoder_against_segmentor(conv, config, build_segmentor(config))
    if dst is not None:
        save_conversion(conv, dst, meta=dict(
            pretext_checkpoint=src if isinstance(src, str) else None))
    return conv
