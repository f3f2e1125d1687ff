"""Scale-aware assignment of SoCo: each box is pooled once, from the FPN level of its size."""
import math
from typing import List, Optional, Sequence, Tuple

import torch
from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor

from mmsoco.registry import MODELS


@MODELS.register_module()
class ScaleAwareRoIExtractor(SingleRoIExtractor):
    """mmdet's :class:`SingleRoIExtractor` with SoCo's level assignment.

    A box of side ``s = sqrt(w * h)`` (in the view's pixels) goes to level ``i`` when
    ``scale_ranges[i][0] <= s < scale_ranges[i][1]``.  The paper's ranges map
    ``0-48 -> P2, 48-96 -> P3, 96-192 -> P4, 192-224 -> P5``; sizes beyond the last range go to
    the last level.  ``fixed_level`` switches the assignment off and pools every box from one
    level.  Pooling itself is mmcv's ``RoIAlign``, one call per level over only that level's
    boxes.  Unlike mmdet's loop (a ``nonzero`` and a scatter per level) the boxes are sorted by
    level once, so a forward waits on the device once instead of once per level.

    Args:
        roi_layer (dict): RoI layer config, e.g. ``dict(type='RoIAlign', output_size=7,
            sampling_ratio=0, aligned=True)``.
        out_channels (int): Channels of the pooled features.
        featmap_strides (Sequence[int]): Strides of the input levels, e.g. ``[4, 8, 16, 32]``.
        scale_ranges (Sequence[tuple[float, float]]): One ``[low, high)`` range of box side per
            level. Defaults to the paper's ``((0, 48), (48, 96), (96, 192), (192, inf))``.
        fixed_level (int, optional): Pool every box from this level instead. Defaults to None.
        init_cfg (dict, optional): Initialization config.
    """

    def __init__(self,
                 roi_layer: dict,
                 out_channels: int,
                 featmap_strides: List[int],
                 scale_ranges: Sequence[Tuple[float, float]] = (
                     (0, 48), (48, 96), (96, 192), (192, math.inf)),
                 fixed_level: Optional[int] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(roi_layer=roi_layer, out_channels=out_channels,
                         featmap_strides=featmap_strides, init_cfg=init_cfg)
        if fixed_level is None and len(scale_ranges) != len(featmap_strides):
            raise ValueError(f'{len(scale_ranges)} scale_ranges for {len(featmap_strides)} '
                             'levels: give one [low, high) range of box side per level')
        if fixed_level is not None and not 0 <= fixed_level < len(featmap_strides):
            raise ValueError(f'fixed_level={fixed_level} but there are only '
                             f'{len(featmap_strides)} levels')
        self.scale_ranges = [tuple(float(v) for v in r) for r in scale_ranges]
        self.fixed_level = fixed_level

    def map_roi_levels(self, rois: torch.Tensor, num_levels: int) -> torch.Tensor:
        """Assign each RoI to a level by its side ``sqrt(w * h)``.

        Args:
            rois (Tensor): shape (n, 5), first column is the batch index, then x1, y1, x2, y2.
            num_levels (int): Number of levels.

        Returns:
            Tensor: shape (n,), the level index (long) of each RoI.
        """
        if self.fixed_level is not None:
            return rois.new_full((rois.size(0), ), self.fixed_level, dtype=torch.long)
        side = torch.sqrt((rois[:, 3] - rois[:, 1]).clamp(min=0) *
                          (rois[:, 4] - rois[:, 2]).clamp(min=0))             # n
        # upper bounds of levels 0..L-2; a box at or above a bound moves one level up
        bounds = side.new_tensor([high for _, high in self.scale_ranges[:num_levels - 1]])
        return torch.bucketize(side, bounds, right=True).clamp(max=num_levels - 1)

    def forward(self,
                feats: Tuple[torch.Tensor],
                rois: torch.Tensor,
                roi_scale_factor: Optional[float] = None) -> torch.Tensor:
        """Pool each RoI from its level.

        Args:
            feats (tuple[Tensor]): Levels, each of shape (N, C, H_l, W_l).
            rois (Tensor): shape (n, 5), first column is the batch index.
            roi_scale_factor (float, optional): Scale boxes around their centre first.

        Returns:
            Tensor: shape (n, C, out_h, out_w), in the order of ``rois``.
        """
        num_levels = len(feats)
        if num_levels == 1:
            return super().forward(feats, rois, roi_scale_factor)
        rois = rois.type_as(feats[0])
        levels = self.map_roi_levels(rois, num_levels)                      # n
        if roi_scale_factor is not None:
            rois = self.roi_rescale(rois, roi_scale_factor)
        order = torch.argsort(levels)                                       # n, level-major
        counts = torch.bincount(levels, minlength=num_levels).tolist()     # the one sync
        pooled = [self.roi_layers[i](feats[i], part)
                  for i, part in enumerate(rois[order].split(counts)) if counts[i]]
        roi_feats = feats[0].new_empty(
            (rois.size(0), feats[0].size(1), *self.roi_layers[0].output_size))
        if pooled:
            roi_feats[order] = torch.cat(pooled)                            # back to rois order
        # a level without boxes still joins the graph, so DDP sees the same graph on every rank
        unused = [feats[i].sum() * 0. for i in range(num_levels) if not counts[i]]
        return roi_feats + sum(unused) if unused else roi_feats

    def pool_all_levels(self, feats: Tuple[torch.Tensor], rois: torch.Tensor) -> torch.Tensor:
        """Pool every RoI from every level (the original SoCo code's strategy).

        Only for comparison in benchmarks: it does ``num_levels`` times the pooling and head work.

        Args:
            feats (tuple[Tensor]): Levels, each of shape (N, C, H_l, W_l).
            rois (Tensor): shape (n, 5).

        Returns:
            Tensor: shape (num_levels * n, C, out_h, out_w), level-major.
        """
        return torch.cat([self.roi_layers[i](feats[i], rois) for i in range(len(feats))])
