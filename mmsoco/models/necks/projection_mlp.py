"""The projector and predictor of SoCo (and BYOL): a 2-layer MLP on RoI embeddings."""
from typing import Optional, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule

from mmsoco.registry import MODELS


# Not mmselfsup's NonLinearNeck (which with_bias, with_last_bias, with_last_bn=False and
# with_avg_pool=False computes the same): it takes and returns a 1-tuple of backbone maps, and its
# parameter names (fc0, bn0, fc1) would change the keys of every converter and published checkpoint.
@MODELS.register_module()
class ProjectionMLP(BaseModule):
    """Linear -> BN -> ReLU -> Linear, applied to one embedding per box.

    SoCo uses it twice: as the projector (online and target networks) and as the predictor
    (online network only), both with 4096 hidden units and 256 outputs.

    Args:
        in_channels (int): Width of the input embedding (1024 after the R-CNN head, 2048 after
            res5 in the C4 variant).
        hid_channels (int): Hidden width. Defaults to 4096.
        out_channels (int): Output width. Defaults to 256.
        norm_cfg (dict): Norm after the hidden layer; SyncBN in distributed configs.
            Defaults to ``dict(type='BN1d')``.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 in_channels: int,
                 hid_channels: int = 4096,
                 out_channels: int = 256,
                 norm_cfg: dict = dict(type='BN1d'),
                 init_cfg: Optional[Union[dict, list]] = dict(
                     type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])) -> None:
        super().__init__(init_cfg=init_cfg)
        self.fc1 = nn.Linear(in_channels, hid_channels)
        self.bn = build_norm_layer(norm_cfg, hid_channels)[1]
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Linear(hid_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args:
            x (Tensor): shape (n, in_channels).

        Returns:
            Tensor: shape (n, out_channels).
        """
        return self.fc2(self.relu(self.bn(self.fc1(x))))
