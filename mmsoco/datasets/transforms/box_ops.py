"""Numpy helpers for axis-aligned boxes and the view geometry of the SoCo pipeline.

Boxes are float arrays of shape (n, 4), ``x1, y1, x2, y2`` in continuous pixel coordinates: pixel
``(i, j)`` covers ``[j, j + 1) x [i, i + 1)``, so an image of width ``W`` spans ``[0, W]``.  This is
the convention under which ``cv2.resize`` maps a crop ``[x0, x0 + w)`` onto ``[0, W')`` by
``x' = (x - x0) * W' / w``.

Every view records a 3x3 matrix that maps original-image coordinates to view coordinates.  It is
axis-aligned (scale, translation and possibly a mirror), so boxes map to boxes exactly.

Not mmdet's ``HorizontalBoxes``: it holds torch tensors and applies one operation at a time
(``rescale_``, ``translate_``, ``flip_``), while a view composes crop, resize and flip into one
matrix and maps the proposals with it, as numpy arrays in the data workers.
"""
import numpy as np


def scale_translate(sx: float, sy: float, tx: float = 0., ty: float = 0.) -> np.ndarray:
    """3x3 matrix of ``x' = sx * x + tx``, ``y' = sy * y + ty``."""
    return np.array([[sx, 0., tx], [0., sy, ty], [0., 0., 1.]], dtype=np.float64)


def crop_resize_matrix(crop, out_size) -> np.ndarray:
    """Matrix mapping a crop ``(x0, y0, w, h)`` of an image onto an output of ``(W', H')``."""
    x0, y0, w, h = crop
    sx, sy = out_size[0] / w, out_size[1] / h
    return scale_translate(sx, sy, -x0 * sx, -y0 * sy)


def hflip_matrix(width: float) -> np.ndarray:
    """Matrix of a horizontal flip of an image ``width`` pixels wide: ``x' = width - x``."""
    return scale_translate(-1., 1., width, 0.)


def map_boxes(boxes: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply an axis-aligned matrix to boxes (n, 4); corners are re-ordered after a mirror."""
    xs = boxes[:, 0::2] * matrix[0, 0] + matrix[0, 2]
    ys = boxes[:, 1::2] * matrix[1, 1] + matrix[1, 2]
    out = np.stack([xs.min(1), ys.min(1), xs.max(1), ys.max(1)], axis=1)
    return out.astype(np.float32)


def clip_boxes(boxes: np.ndarray, width: float, height: float) -> np.ndarray:
    """Clip boxes (n, 4) to ``[0, width] x [0, height]``."""
    out = boxes.copy()
    np.clip(out[:, 0::2], 0, width, out=out[:, 0::2])
    np.clip(out[:, 1::2], 0, height, out=out[:, 1::2])
    return out


def box_sizes(boxes: np.ndarray):
    """Widths and heights (n,) of boxes (n, 4); negative for inverted boxes."""
    return boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]


def visible_mask(boxes: np.ndarray, width: float, height: float, min_size: float = 0.,
                 min_visible: float = 0.) -> np.ndarray:
    """Which boxes (given in a view's coordinates) survive clipping to the view.

    A box survives when its clipped part has a positive area, is at least ``min_size`` pixels wide
    and high, and keeps more than ``min_visible`` of the box's area.

    Returns:
        np.ndarray: bool (n,).
    """
    clipped = clip_boxes(boxes, width, height)
    cw, ch = box_sizes(clipped)
    keep = (cw > 0) & (ch > 0) & (cw >= min_size) & (ch >= min_size)
    if min_visible > 0:
        w, h = box_sizes(boxes)
        area = np.maximum(w * h, 1e-12)
        keep &= (cw * ch) / area > min_visible
    return keep
