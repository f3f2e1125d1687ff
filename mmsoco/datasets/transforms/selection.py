"""The original code's proposal selection: crops first, then K proposals per pair of views.

:class:`~.original_views.SoCoOriginalViews` uses these.  Geometry is in the decoded image's
pixels, boxes ``x1, y1, x2, y2`` with ``x2 = x1 + w`` (see :mod:`.box_ops`).
"""
from typing import Tuple

import numpy as np


def overlapping(boxes: np.ndarray, crop: Tuple[int, int, int, int],
                min_overlap: float = 1.) -> np.ndarray:
    """Which boxes (n, 4) share more than ``min_overlap`` pixels each way with a crop.

    The original tests ``crop_x1 < box_x2 and box_x1 < crop_x2`` (and the same in y) on boxes
    and crops with inclusive integer corners: the two must share at least two pixel columns and
    rows, i.e. more than one pixel each way in this module's convention.

    Returns:
        np.ndarray: bool (n,).
    """
    x0, y0, w, h = crop
    iw = np.minimum(boxes[:, 2], x0 + w) - np.maximum(boxes[:, 0], x0)
    ih = np.minimum(boxes[:, 3], y0 + h) - np.maximum(boxes[:, 1], y0)
    return (iw > min_overlap) & (ih > min_overlap)


def pick(candidates: np.ndarray, k: int) -> np.ndarray:
    """K of the candidate indices at random without replacement; all of them if there are fewer
    (in their order, as the original's ``select_props``)."""
    idx = np.flatnonzero(candidates)
    if len(idx) > k:
        idx = idx[np.random.choice(len(idx), k, replace=False)]
    return idx


def pad_index(n: int, k: int) -> np.ndarray:
    """Indices ``0..n-1`` padded to ``k`` by random draws with replacement among them (the
    original's ``pad_bboxs_with_common``); ``n >= 1``."""
    if n >= k:
        return np.arange(k)
    return np.concatenate([np.arange(n), np.random.choice(n, k - n)])
