"""An MMSegmentation encoder-decoder (backbone + decode head) as a pretext-task network."""
from typing import Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmsoco.registry import MODELS

#: The decode heads the dense pretext configs use (any mmseg decode head is accepted).
KNOWN_HEADS = ('FCNHead', 'PSPHead', 'DepthwiseSeparableASPPHead', 'NLHead')


def _type_name(cfg: dict) -> str:
    return str(cfg.get('type', '')).split('.')[-1]


def build_seg_module(cfg: dict, what: str) -> nn.Module:
    """Build ``cfg`` in MMSegmentation's model registry (imported here, not at ``import mmsoco``).

    Args:
        cfg (dict): An mmseg model config (``type`` without or with the ``mmseg.`` prefix).
        what (str): The config key, for the message (``'backbone'``, ``'decode_head'``).

    Raises:
        ValueError: ``type`` is not an MMSegmentation module (one line naming it).
    """
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS as SEG_MODELS
    from mmseg.utils import register_all_modules

    register_all_modules(init_default_scope=False)
    cfg = dict(cfg, type=_type_name(cfg))
    if SEG_MODELS.get(cfg['type']) is None:
        raise ValueError(
            f'{what}.type={cfg["type"]!r} is not an MMSegmentation module; for the decode head '
            f'use one of {", ".join(KNOWN_HEADS)} (or any head in mmseg.models.decode_heads)')
    with DefaultScope.overwrite_default_scope('mmseg'):
        return SEG_MODELS.build(cfg)


@MODELS.register_module()
class PretextEncoderDecoder(BaseModule):
    """The encoder-decoder of an MMSegmentation segmentor, trained by a pretext task.

    ``backbone`` and ``decode_head`` are built in MMSegmentation's registry from the same configs
    a segmentation config holds, so the state dict of this module has exactly the keys of an mmseg
    ``EncoderDecoder`` (``backbone.*``, ``decode_head.*``, no auxiliary head) and the decoder the
    pretext task trains is the module the segmenter later loads.

    ``forward`` is mmseg's ``decode_head(backbone(x))``, the head given every backbone level as
    in a segmentor (DeepLabV3+ fuses C2).  With ``classifier=False`` the head's final 1x1 conv
    (``conv_seg``) is an identity, so the output is the decoder's feature map (``channels``
    channels), not class scores.

    Args:
        backbone (dict): mmseg backbone config, e.g. ``dict(type='ResNet', depth=50,
            strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4))`` (output stride 8).
        decode_head (dict): mmseg decode head config (``FCNHead``, ``PSPHead``,
            ``DepthwiseSeparableASPPHead``, ``NLHead``, ...), with ``num_classes`` the pretext
            task's classes (4 rotations for PLR; any value when ``classifier=False``).
        classifier (bool): Keep the head's ``conv_seg`` (True) or replace it by an identity.
            Defaults to True.
        return_tuple (bool): Return ``(map, )``, the mmselfsup backbone convention that necks such
            as ``NonLinearNeck`` take, instead of the map. Defaults to False.
        init_cfg (dict, optional): Initialization config. Defaults to None.

    Attributes:
        stride (int): Input pixels per output cell (8 or 16 for dilated ResNets; 4 for a head
            that fuses C2, DeepLabV3+).
        out_channels (int): Channels of the output map.
    """

    def __init__(self,
                 backbone: dict,
                 decode_head: dict,
                 classifier: bool = True,
                 return_tuple: bool = False,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.backbone = build_seg_module(backbone, 'backbone')
        self.decode_head = build_seg_module(decode_head, 'decode_head')
        self.return_tuple = return_tuple
        if classifier:
            self.out_channels = self.decode_head.out_channels
        else:
            # the Normal init that mmseg's heads give conv_seg finds no weight on an identity
            self.decode_head.conv_seg = nn.Identity()
            self.out_channels = self.decode_head.channels
        strides = getattr(self.backbone, 'strides', None)
        if strides is None:
            raise ValueError(f'backbone.type={_type_name(backbone)!r} has no strides; use an '
                             "mmseg ResNet (type='ResNet' with strides and dilations)")
        self.stride = 4 * int(torch.tensor(strides).prod())  # the stem is stride 4
        if getattr(self.decode_head, 'c1_bottleneck', None) is not None:
            self.stride = 4  # DeepLabV3+: upsampled to C2 and fused with it

    def forward(self, x: torch.Tensor) -> Union[torch.Tensor, Tuple[torch.Tensor]]:
        """Decoder output map.

        Args:
            x (Tensor): Images, shape (N, 3, H, W).

        Returns:
            Tensor: shape (N, out_channels, H / stride, W / stride) (rounded up), or ``(map, )``
            with ``return_tuple``.
        """
        out = self.decode_head(self.backbone(x))
        return (out, ) if self.return_tuple else out
