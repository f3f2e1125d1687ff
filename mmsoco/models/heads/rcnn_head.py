"""The R-CNN box head SoCo pretrains, shaped so its weights load into mmdet's box head."""
from typing import Optional, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule

from mmsoco.registry import MODELS


@MODELS.register_module()
class RCNNHead(BaseModule):
    """The shared part of Mask R-CNN's ``Shared4Conv1FCBBoxHead``: 4 conv3x3 + 1 fc.

    Parameter names (``shared_convs.{i}.conv``, ``shared_convs.{i}.bn``, ``shared_fcs.0``) equal
    those of :class:`mmdet.models.roi_heads.bbox_heads.ConvFCBBoxHead` with ``num_shared_convs=4,
    num_shared_fcs=1`` and ``norm_cfg=dict(type='BN')``, so a SoCo head becomes the detector's box
    head by renaming the prefix only.

    Args:
        in_channels (int): Channels of the pooled RoI features. Defaults to 256.
        roi_feat_size (int): Side of the pooled RoI features. Defaults to 7.
        num_convs (int): Number of 3x3 convs. Defaults to 4.
        conv_out_channels (int): Channels of each conv. Defaults to 256.
        fc_out_channels (int): Width of the fc layer. Defaults to 1024.
        norm_cfg (dict): Norm layer of the convs. Defaults to ``dict(type='BN')``.
        init_cfg (dict or list[dict], optional): Initialization config. Defaults to None:
            PyTorch's own initialisation of ``nn.Conv2d`` and ``nn.Linear`` (uniform, bound
            ``1/sqrt(fan_in)``), as the original SoCo head, whose plain layers are never
            re-initialised. mmcv's ``ConvModule`` would otherwise apply Kaiming (fan_out) to the
            convs. The scale matters for transfer: the fc is followed by ReLU and the
            projector's BN, so pretraining hardly changes its norm, and the detector's box head
            inherits it (Kaiming fan_out starts it about 8.6x larger).
    """

    def __init__(self,
                 in_channels: int = 256,
                 roi_feat_size: int = 7,
                 num_convs: int = 4,
                 conv_out_channels: int = 256,
                 fc_out_channels: int = 1024,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.shared_convs = nn.ModuleList([
            ConvModule(in_channels if i == 0 else conv_out_channels, conv_out_channels, 3,
                       padding=1, norm_cfg=norm_cfg) for i in range(num_convs)
        ])
        self.shared_fcs = nn.ModuleList(
            [nn.Linear(conv_out_channels * roi_feat_size * roi_feat_size, fc_out_channels)])
        self.relu = nn.ReLU(inplace=True)

    def init_weights(self) -> None:
        """PyTorch's default init without ``init_cfg`` (the original's), else mmengine's."""
        if self.init_cfg is not None:
            super().init_weights()
            return
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear, nn.modules.batchnorm._BatchNorm)):
                m.reset_parameters()
        self._is_init = True

    def forward(self, roi_feats: torch.Tensor) -> torch.Tensor:
        """Embed pooled RoI features.

        Args:
            roi_feats (Tensor): shape (n, in_channels, roi_feat_size, roi_feat_size).

        Returns:
            Tensor: shape (n, fc_out_channels).
        """
        x = roi_feats
        for conv in self.shared_convs:
            x = conv(x)                       # n x 256 x 7 x 7
        x = x.flatten(1)                      # n x (256*7*7)
        for fc in self.shared_fcs:
            x = self.relu(fc(x))              # n x 1024
        return x
