"""Which cell of one view's feature map matches which cell of another view's.

A feature map at output stride ``s`` divides its view into cells: cell ``(i, j)`` covers view
pixels ``[j s, (j + 1) s) x [i s, (i + 1) s)`` (the last row and column may stick out of a view
whose side is not a multiple of ``s``) and its centre is ``((j + 1/2) s, (i + 1/2) s)``.  Cells are
numbered row-major, ``i * w + j``, as ``feature.flatten(2)`` orders them.  View coordinates
follow :mod:`mmsoco.datasets.transforms.box_ops`: every view carries a 3x3 matrix mapping
original-image coordinates to its own, crop, resize and flip included.
"""
from typing import Tuple

import torch
import torch.nn.functional as F

#: A query cell without a match.
NO_MATCH = -1


def cell_centres(height: int, width: int, stride: float) -> torch.Tensor:
    """Centres of the cells of an ``height`` x ``width`` map, in view pixels.

    Returns:
        Tensor: float64 (height * width, 2), ``x, y`` per cell, row-major.
    """
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float64),
                            torch.arange(width, dtype=torch.float64), indexing='ij')
    return torch.stack([(xs.flatten() + 0.5) * stride, (ys.flatten() + 0.5) * stride], dim=1)


def map_points(points: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """Apply 3x3 matrices (N, 3, 3) to points (P, 2): (N, P, 2)."""
    homogeneous = torch.cat([points, points.new_ones(len(points), 1)], dim=1)  # Px3
    return torch.einsum('nij,pj->npi', matrices, homogeneous)[..., :2]


def geometric_match(query_matrices: torch.Tensor, key_matrices: torch.Tensor,
                    query_map: Tuple[int, int], key_map: Tuple[int, int],
                    key_view: Tuple[int, int], stride: float) -> torch.Tensor:
    """For every query cell, the key cell its centre falls in, when it falls inside the key view.

    The query cell's centre is mapped into the original image (inverse of the query view's
    matrix) and from there into the key view (the key view's matrix); a flip in either view is
    part of its matrix.

    Args:
        query_matrices (Tensor): (N, 3, 3), original image -> query view, per image.
        key_matrices (Tensor): (N, 3, 3), original image -> key view.
        query_map (tuple[int]): ``(h, w)`` of the query feature map.
        key_map (tuple[int]): ``(h, w)`` of the key feature map.
        key_view (tuple[int]): ``(H, W)`` of the key view in pixels.
        stride (float): Output stride of both maps, view pixels per cell.

    Returns:
        Tensor: int64 (N, h_q * w_q), the key cell of each query cell, or ``NO_MATCH``.
    """
    relative = key_matrices.double() @ torch.linalg.inv(query_matrices.double())  # q -> k
    centres = cell_centres(*query_map, stride).to(relative.device)               # Sq x 2
    mapped = map_points(centres, relative)                                        # N x Sq x 2
    x, y = mapped[..., 0], mapped[..., 1]
    inside = (x >= 0) & (x < key_view[1]) & (y >= 0) & (y < key_view[0])
    col = torch.div(x, stride, rounding_mode='floor').clamp(0, key_map[1] - 1).long()
    row = torch.div(y, stride, rounding_mode='floor').clamp(0, key_map[0] - 1).long()
    index = row * key_map[1] + col
    return torch.where(inside, index, torch.full_like(index, NO_MATCH))


def similarity_match(query_feats: torch.Tensor, key_feats: torch.Tensor) -> torch.Tensor:
    """DenseCL's matching: each query cell's most similar key cell (cosine, argmax).

    Args:
        query_feats (Tensor): (N, C, Sq) cell features of the query view.
        key_feats (Tensor): (N, C, Sk) cell features of the key view.

    Returns:
        Tensor: int64 (N, Sq); every query cell has a match.
    """
    similarity = torch.bmm(F.normalize(query_feats, dim=1).transpose(1, 2),
                           F.normalize(key_feats, dim=1))                        # N x Sq x Sk
    return similarity.argmax(dim=2)
