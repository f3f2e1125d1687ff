"""The res5 RoI head of Mask R-CNN R50-C4 followed by an extra BN, as the SoCo release fine-tunes.

The SoCo release (like MoCo's detection configs) fine-tunes R50-C4 detectors with Detectron2's
``Res5ROIHeadsExtraNorm``: the res5 stage that runs on each RoI is followed by one more norm layer
(SyncBN) on its output, before the box predictor's average pooling and before the mask head, which
reads the same res5 features.  In mmdet that output is the one of the RoI head's shared head, so
the extra norm belongs there.
"""
from typing import Optional, Union

from mmcv.cnn import build_norm_layer
from mmdet.models.backbones import ResNet
from mmdet.models.roi_heads.shared_heads import ResLayer
from torch import Tensor

from mmsoco.registry import MODELS


@MODELS.register_module()
class ResLayerExtraNorm(ResLayer):
    """mmdet's res5 shared head (:class:`mmdet.models.roi_heads.ResLayer`) + a norm on its output.

    Parameter names: ``layer4.*`` as mmdet's ResLayer (what the converted SoCo C4 checkpoint
    fills), and ``norm.*`` for the extra norm, which no pretrained layer feeds: it starts from
    the usual init (weight 1, bias 0, running mean 0 and var 1), as in Detectron2.

    Args:
        depth (int): ResNet depth (50 for R50-C4).
        norm_cfg (dict): Norm layer of res5 and of the extra norm.
            Defaults to ``dict(type='BN', requires_grad=True)``.
        init_cfg (dict or list[dict], optional): Initialization config.
        **kwargs: The other arguments of mmdet's ResLayer (``stage``, ``stride``, ``style``,
            ``norm_eval``, ...).
    """

    def __init__(self,
                 depth: int,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 init_cfg: Optional[Union[dict, list]] = None,
                 **kwargs) -> None:
        super().__init__(depth, norm_cfg=norm_cfg, init_cfg=init_cfg, **kwargs)
        block, _ = ResNet.arch_settings[depth]
        out_channels = 64 * 2**self.stage * block.expansion  # 2048 for res5 of R50
        self.add_module('norm', build_norm_layer(norm_cfg, out_channels)[1])

    def forward(self, x: Tensor) -> Tensor:
        """Run res5 and the extra norm on pooled RoI features.

        Args:
            x (Tensor): RoI features from the RoI extractor, shape (n, 1024, 14, 14) for R50-C4.

        Returns:
            Tensor: Normalised res5 features, shape (n, 2048, 7, 7).
        """
        return self.norm(super().forward(x))
