"""Scale-aware assignment of SoCo: each box is pooled once, from the FPN level of its size."""
import contextlib
from typing import List, Optional, Sequence, Tuple

import torch
from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor

from mmsoco.registry import MODELS


@MODELS.register_module()
class ScaleAwareRoIExtractor(SingleRoIExtractor):
    """mmdet's :class:`SingleRoIExtractor` with SoCo's level assignment.

    A box of side ``s = sqrt(w * h)`` (in the view's pixels) goes to the first level ``i`` with
    ``s <= level_bounds[i]``, and to the last level when it exceeds every bound.  Upper bounds are
    inclusive, as in the original code: with the paper's ``(48, 96, 192)`` a box of side 48 is
    pooled from P2, one of side 48.0001 from P3, 96 from P3, 192 from P4 and anything larger from
    P5.  The bounds are boundaries between consecutive levels, so a config can describe neither a
    gap nor an overlap, and holds no infinity.  ``fixed_level`` switches the assignment off and
    pools every box from one level.

    Pooling itself is mmcv's ``RoIAlign``, one call per level over only that level's boxes.
    Unlike mmdet's loop (a ``nonzero`` and a scatter per level) the boxes are sorted by level
    once, so a forward waits on the device once instead of once per level.  It runs in fp32
    under mixed precision, as the original code did (it cast the feature maps to the boxes'
    dtype): box coordinates keep their precision (bf16 rounds 213.7 to 214), and mmcv's CPU
    kernel has no bf16.  Two speed switches: ``roi_layer=dict(..., use_torchvision=True)`` runs
    torchvision's kernel (mmcv's own switch; the same features), and ``fp32_pooling=False``
    pools fp16 levels in fp16, the boxes cast to fp16 (both kernels take one dtype for both;
    fp16 keeps a box corner to 1/2048 of its value).  bf16 levels are pooled in fp32 either way:
    neither mmcv's nor torchvision's kernel (CPU or CUDA) has bf16.

    Args:
        roi_layer (dict): RoI layer config, e.g. ``dict(type='RoIAlign', output_size=7,
            sampling_ratio=0, aligned=True)``.
        out_channels (int): Channels of the pooled features.
        featmap_strides (Sequence[int]): Strides of the input levels, e.g. ``[4, 8, 16, 32]``.
        level_bounds (Sequence[float]): Inclusive upper bound of box side for every level but the
            last, strictly increasing; ``len(featmap_strides) - 1`` values. Defaults to the
            paper's ``(48, 96, 192)``.
        fixed_level (int, optional): Pool every box from this level instead. Defaults to None.
        fp32_pooling (bool): Pool fp16 levels in fp32 (see above). Defaults to True.
        init_cfg (dict, optional): Initialization config.
    """

    def __init__(self,
                 roi_layer: dict,
                 out_channels: int,
                 featmap_strides: List[int],
                 level_bounds: Sequence[float] = (48, 96, 192),
                 fixed_level: Optional[int] = None,
                 fp32_pooling: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(roi_layer=roi_layer, out_channels=out_channels,
                         featmap_strides=featmap_strides, init_cfg=init_cfg)
        bounds = [float(b) for b in level_bounds]
        if fixed_level is None and len(bounds) != len(featmap_strides) - 1:
            raise ValueError(f'{len(bounds)} level_bounds for {len(featmap_strides)} levels: give '
                             'one upper bound of box side per level but the last, e.g. '
                             '(48, 96, 192) for P2-P5')
        if any(low >= high for low, high in zip(bounds, bounds[1:])) or any(
                b <= 0 for b in bounds):
            raise ValueError(f'level_bounds must be positive and strictly increasing, got '
                             f'{tuple(level_bounds)}')
        if fixed_level is not None and not 0 <= fixed_level < len(featmap_strides):
            raise ValueError(f'fixed_level={fixed_level} but there are only '
                             f'{len(featmap_strides)} levels')
        self.level_bounds = bounds
        self.fixed_level = fixed_level
        self.fp32_pooling = fp32_pooling

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
        bounds = side.new_tensor(self.level_bounds[:num_levels - 1])
        # right=False: bounds[i - 1] < side <= bounds[i] gives i, the upper bound is inclusive
        return torch.bucketize(side, bounds, right=False)

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
            Tensor: shape (n, C, out_h, out_w), in the order of ``rois``; float32 unless
            ``fp32_pooling=False`` and the levels are fp16.
        """
        feats, rois = self._pooling_dtype(feats, rois)
        num_levels = len(feats)
        if num_levels == 1:
            return super().forward(feats, rois, roi_scale_factor)
        levels = self.map_roi_levels(rois, num_levels)                      # n
        if roi_scale_factor is not None:
            rois = self.roi_rescale(rois, roi_scale_factor)
        order = torch.argsort(levels)                                       # n, level-major
        counts = torch.bincount(levels, minlength=num_levels).tolist()     # the one sync
        with self._no_autocast(feats[0]):
            pooled = [self.roi_layers[i](feats[i], part)
                      for i, part in enumerate(rois[order].split(counts)) if counts[i]]
        roi_feats = feats[0].new_empty(
            (rois.size(0), feats[0].size(1), *self.roi_layers[0].output_size))
        if pooled:
            roi_feats[order] = torch.cat(pooled)                            # back to rois order
        # a level without boxes still joins the graph, so DDP sees the same graph on every rank
        unused = [feats[i].sum() * 0. for i in range(num_levels) if not counts[i]]
        return roi_feats + sum(unused) if unused else roi_feats

    def pool_all_levels(self, feats: Tuple[torch.Tensor],
                        rois: torch.Tensor) -> List[torch.Tensor]:
        """Pool every RoI from every level, one tensor per level (the original SoCo code).

        ``SoCo(roi_pooling='original')`` runs each level's tensor through the head and MLPs as a
        batch of its own, then keeps each box's assigned level (:meth:`map_roi_levels`).

        Args:
            feats (tuple[Tensor]): Levels, each of shape (N, C, H_l, W_l).
            rois (Tensor): shape (n, 5), first column is the batch index.

        Returns:
            list[Tensor]: ``len(feats)`` tensors of shape (n, C, out_h, out_w), in the order of
            ``rois``.
        """
        feats, rois = self._pooling_dtype(feats, rois)
        with self._no_autocast(feats[0]):
            return [self.roi_layers[i](feats[i], rois) for i in range(len(feats))]

    def _pooling_dtype(self, feats: Tuple[torch.Tensor],
                       rois: torch.Tensor) -> Tuple[Tuple[torch.Tensor], torch.Tensor]:
        # autocast leaves the FPN levels in fp16/bf16: pool them in fp32 (fp32 maps stay as is;
        # fp16 maps too with fp32_pooling=False; no RoIAlign kernel has bf16)
        dtype = feats[0].dtype
        if dtype == torch.bfloat16 or (self.fp32_pooling and dtype == torch.float16):
            dtype = torch.float32
        return tuple(f.to(dtype) for f in feats), rois.to(dtype)

    def _no_autocast(self, feat: torch.Tensor):
        """Autocast off while pooling fp16 levels in fp16: torchvision's autocast rule would
        cast them to fp32 again."""
        if self.fp32_pooling:
            return contextlib.nullcontext()
        return torch.autocast(feat.device.type, enabled=False)
