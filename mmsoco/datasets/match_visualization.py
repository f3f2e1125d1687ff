"""Draw two views with their geometrically matched cells (``tools/visualize_patch_matching.py``).

A person checks with it that matched cells show the same content in both views, flips included,
and that the cells outside the overlap are left out.
"""
from typing import Sequence

import cv2
import numpy as np
import torch

from .cell_matching import NO_MATCH, cell_centres, geometric_match, map_points
from .visualization import _GAP, _TITLE_H, _panel, proposal_colour


def draw_cell_matches(views: Sequence[np.ndarray], matrices: np.ndarray, stride: int = 16,
                      flips: Sequence[bool] = (False, False), every: int = 2) -> np.ndarray:
    """One row: the query view and the key view with the cell grid at ``stride``.

    Query cells without a match are greyed out.  Every ``every``-th matched query cell (in rows
    and columns) gets a colour: a dot at its centre in the query view, and in the key view the
    same dot where that centre lands, inside the outlined key cell that is its positive.

    Args:
        views (list[np.ndarray]): Query and key view, uint8 (H, W, 3) BGR.
        matrices (np.ndarray): (2, 3, 3), original image -> each view.
        stride (int): Output stride of the dense map. Defaults to 16.
        flips (list[bool]): Whether each view was flipped (titles only).
        every (int): Draw one matched cell in ``every`` along each axis. Defaults to 2.

    Returns:
        np.ndarray: uint8 (h, w, 3) BGR.
    """
    query, key = (np.ascontiguousarray(v.copy()) for v in views)
    q_map = tuple(-(-s // stride) for s in query.shape[:2])
    k_map = tuple(-(-s // stride) for s in key.shape[:2])
    m = torch.as_tensor(np.asarray(matrices, np.float64))
    match = geometric_match(m[None, 0], m[None, 1], q_map, k_map, key.shape[:2], stride)[0]
    centres = cell_centres(*q_map, stride)
    landed = map_points(centres, (m[1] @ torch.linalg.inv(m[0]))[None])[0]

    for img in (query, key):
        for x in range(stride, img.shape[1], stride):
            cv2.line(img, (x, 0), (x, img.shape[0] - 1), (255, 255, 255), 1)
        for y in range(stride, img.shape[0], stride):
            cv2.line(img, (0, y), (img.shape[1] - 1, y), (255, 255, 255), 1)
    for cell in np.flatnonzero(match.numpy() == NO_MATCH):
        i, j = divmod(int(cell), q_map[1])
        patch = query[i * stride:(i + 1) * stride, j * stride:(j + 1) * stride]
        patch[:] = (patch.astype(np.float32) * 0.3 + 90).astype(np.uint8)

    for n, cell in enumerate(np.flatnonzero(match.numpy() != NO_MATCH)):
        i, j = divmod(int(cell), q_map[1])
        if i % every or j % every:
            continue
        colour = proposal_colour(n)
        qx, qy = (int(v) for v in centres[cell])
        kx, ky = (int(round(float(v))) for v in landed[cell])
        ki, kj = divmod(int(match[cell]), k_map[1])
        for img, (x, y) in ((query, (qx, qy)), (key, (kx, ky))):
            cv2.circle(img, (x, y), 4, (0, 0, 0), -1)
            cv2.circle(img, (x, y), 3, colour, -1)
        cv2.rectangle(key, (kj * stride, ki * stride),
                      ((kj + 1) * stride - 1, (ki + 1) * stride - 1), colour, 1)

    share = float((match != NO_MATCH).float().mean())
    height = max(query.shape[0], key.shape[0])
    titles = (f'query {query.shape[1]}x{query.shape[0]}' + (' flip' if flips[0] else '')
              + f', {share:.0%} matched',
              f'key {key.shape[1]}x{key.shape[0]}' + (' flip' if flips[1] else ''))
    panels = [_panel(img, title, height) for img, title in zip((query, key), titles)]
    gap = np.full((height + _TITLE_H, _GAP, 3), 255, np.uint8)
    return np.concatenate([panels[0], gap, panels[1]], axis=1)
