"""The paper's proposal filter and its fallbacks (numpy only).

SoCo keeps a selective-search box of an image of size W x H when

- its width and height are both at least 32 px,
- its aspect ratio is moderate: 1/3 <= w / h <= 3, and
- its scale is moderate: 0.3 <= sqrt(w * h) / sqrt(W * H) <= 0.8.

An image with no box left falls back to the minimum side and the aspect-ratio test, then to the
minimum side alone, as the original code does: a box narrower or lower than 32 px is never
kept, so an image whose boxes are all that small keeps none (``LEVEL_EMPTY``, listed in the
report).
"""
from dataclasses import asdict, dataclass
from typing import Tuple

import numpy as np

LEVEL_FILTERED, LEVEL_RATIO_ONLY, LEVEL_UNFILTERED, LEVEL_EMPTY = 0, 1, 2, 3


@dataclass(frozen=True)
class BoxFilter:
    """Thresholds of the paper's filter (defaults are the paper's)."""

    min_side: float = 32.0
    min_ratio: float = 1.0 / 3.0
    max_ratio: float = 3.0
    min_scale: float = 0.3
    max_scale: float = 0.8

    def to_dict(self) -> dict:
        return asdict(self)

    def ratio_mask(self, boxes: np.ndarray) -> np.ndarray:
        """bool (n,): aspect ratio w / h within [min_ratio, max_ratio] (and w, h > 0)."""
        w = boxes[:, 2] - boxes[:, 0]
        h = boxes[:, 3] - boxes[:, 1]
        ok = (w > 0) & (h > 0)
        ratio = np.divide(w, h, out=np.zeros_like(w, dtype=np.float64), where=ok)
        return ok & (ratio >= self.min_ratio) & (ratio <= self.max_ratio)

    def side_mask(self, boxes: np.ndarray) -> np.ndarray:
        """bool (n,): width and height both at least ``min_side``."""
        return ((boxes[:, 2] - boxes[:, 0]) >= self.min_side) & (
            (boxes[:, 3] - boxes[:, 1]) >= self.min_side)

    def mask(self, boxes: np.ndarray, width: int, height: int) -> np.ndarray:
        """bool (n,): the full filter for boxes (n, 4) x1, y1, x2, y2 in a W x H image."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        w = boxes[:, 2] - boxes[:, 0]
        h = boxes[:, 3] - boxes[:, 1]
        scale = np.sqrt(np.clip(w * h, 0, None) / max(float(width) * float(height), 1e-12))
        return (self.ratio_mask(boxes) & self.side_mask(boxes)
                & (scale >= self.min_scale) & (scale <= self.max_scale))

    def select(self, boxes: np.ndarray, width: int, height: int) -> Tuple[np.ndarray, int]:
        """Boxes to keep for one image, with the fallbacks.

        Returns:
            tuple: (kept boxes (k, 4), level) with level ``LEVEL_FILTERED`` (the full filter
            kept some), ``LEVEL_RATIO_ONLY`` (the minimum side and the aspect-ratio test did),
            ``LEVEL_UNFILTERED`` (the minimum side alone did) or ``LEVEL_EMPTY`` (no box with
            both sides >= ``min_side``, or no box at all).
        """
        boxes = np.asarray(boxes).reshape(-1, 4)
        if len(boxes) == 0:
            return boxes, LEVEL_EMPTY
        keep = self.mask(boxes, width, height)
        if keep.any():
            return boxes[keep], LEVEL_FILTERED
        b = np.asarray(boxes, dtype=np.float64)
        big = self.side_mask(b)
        keep = big & self.ratio_mask(b)
        if keep.any():
            return boxes[keep], LEVEL_RATIO_ONLY
        if big.any():
            return boxes[big], LEVEL_UNFILTERED
        return boxes[:0], LEVEL_EMPTY
