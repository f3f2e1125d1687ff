"""The geometry of SoCo's views: view specs, random crops and resizing.

A view is described by its role, not its position, as a :class:`ViewSpec`:

- ``kind='whole'``: the whole image resized to ``size`` (V1; only the first view);
- ``kind='crop'``: a random crop (area fraction of the frame in ``scale``) resized to ``size``;
- ``kind='downsample'``: view ``source`` (an earlier view, V2 by default) resized to ``size``.

Crops are drawn as ``(x0, y0, w, h)`` in the decoded image's pixels; :mod:`.box_ops` turns them
into the 3x3 matrices (original image -> view) that map boxes, flips included
(:func:`~.box_ops.crop_resize_matrix`, :func:`~.box_ops.scale_translate`,
:func:`~.box_ops.hflip_matrix`).  Nothing here depends on mmcv or torch.
"""
import math
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from .box_ops import crop_resize_matrix, scale_translate

Size = Union[int, Tuple[int, int]]
VIEW_KINDS = ('whole', 'crop', 'downsample')
INTERPOLATIONS = dict(
    bilinear=cv2.INTER_LINEAR, area=cv2.INTER_AREA, bicubic=cv2.INTER_CUBIC,
    nearest=cv2.INTER_NEAREST)


class ViewSpec(NamedTuple):
    """One view: ``kind`` (``'whole'``, ``'crop'`` or ``'downsample'``), ``size`` ``(w, h)``,
    ``scale`` (area fraction range of a crop) and ``source`` (the view a downsample resizes)."""
    kind: str
    size: Tuple[int, int]
    scale: Tuple[float, float] = (0.5, 1.0)
    source: Optional[int] = None


def as_size(size: Size) -> Tuple[int, int]:
    """``224`` or ``(w, h)`` -> ``(w, h)``."""
    if isinstance(size, int):
        return size, size
    width, height = size
    return int(width), int(height)


def parse_view_specs(views: Sequence[dict], owner: str = 'views') -> List[ViewSpec]:
    """Check and normalise a config's list of view dicts.

    Args:
        views (Sequence[dict]): One dict per view, V1 first: ``kind``, ``size`` and, for a crop,
            ``scale`` (default (0.5, 1.0)), for a downsample, ``source`` (0-based index of an
            earlier view other than V1; default 1, V2).
        owner (str): Name used in the error messages.

    Returns:
        list[ViewSpec]: One per view.
    """
    specs = []
    for i, view in enumerate(views):
        view = dict(view)
        kind = view.pop('kind', None)
        if kind not in VIEW_KINDS:
            raise ValueError(f'{owner}[{i}]: kind must be one of {VIEW_KINDS}, got {kind!r}')
        if (kind == 'whole') != (i == 0):
            raise ValueError(f"{owner}[{i}]: the first view, and only it, is kind='whole' (V1)")
        if 'size' not in view:
            raise ValueError(f'{owner}[{i}]: give the size of the view (int or (w, h))')
        size = as_size(view.pop('size'))
        scale = tuple(view.pop('scale', (0.5, 1.0)))
        if not 0 < scale[0] <= scale[1] <= 1:
            raise ValueError(f'{owner}[{i}]: crop scale {scale} must lie in (0, 1]')
        source = view.pop('source', 1) if kind == 'downsample' else None
        if source is not None and not 1 <= source < i:
            raise ValueError(f'{owner}[{i}]: a downsample resizes an earlier view other than '
                             f'V1 (source 1..{i - 1}, 0-based), got source={source}')
        if view:
            raise ValueError(f'{owner}[{i}]: unknown keys {sorted(view)} (kind, size, scale, '
                             'source)')
        specs.append(ViewSpec(kind, size, scale, source))
    if len(specs) < 2:
        raise ValueError(f'{owner}: give at least two views (V1 and a crop)')
    return specs


def halve_until_close(img: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Halve each side that is at least twice its target, until none is.

    A bilinear resize by exactly 1/2 samples midway between pixel pairs, i.e. averages them, so
    this is a cheap box-filter pyramid: the bilinear resize that follows then shrinks by less than
    2x and aliases far less than a direct bilinear resize (``INTER_AREA`` aliases a little less
    still, at about four times the cost).
    """
    height, width = img.shape[:2]
    while width >= 2 * size[0] or height >= 2 * size[1]:
        width = width // 2 if width >= 2 * size[0] else width
        height = height // 2 if height >= 2 * size[1] else height
        img = cv2.resize(img, (width, height), interpolation=cv2.INTER_LINEAR)
    return img


def resize(img: np.ndarray, size: Tuple[int, int], interpolation: str = 'auto') -> np.ndarray:
    """Resize to ``size`` (w, h); the mapping is ``x' = x * w / W`` whatever the method.

    Args:
        interpolation (str): ``'auto'`` (bilinear after :func:`halve_until_close`) or a key of
            :data:`INTERPOLATIONS`.
    """
    if interpolation == 'auto':
        img = halve_until_close(img, size)
        flag = cv2.INTER_LINEAR
    else:
        flag = INTERPOLATIONS[interpolation]
    out = cv2.resize(img, size, interpolation=flag)
    return out[..., None] if out.ndim == 2 else out


def random_resized_crop(width: int, height: int, scale: Tuple[float, float],
                        ratio: Tuple[float, float]) -> Tuple[int, int, int, int]:
    """torchvision's ``RandomResizedCrop.get_params`` in the image's own frame.

    The area fraction is drawn from ``scale`` and the aspect ratio (log-uniform) from ``ratio``,
    both measured in the decoded image's pixels; sides are rounded to whole pixels and the corner
    is a uniform whole pixel.  After 10 draws that do not fit, the central crop with the aspect
    ratio clamped to ``ratio``.

    Returns:
        tuple[int]: ``(x0, y0, w, h)`` in the decoded image.
    """
    area = width * height
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * np.random.uniform(*scale)
        aspect = math.exp(np.random.uniform(*log_ratio))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            y0 = np.random.randint(0, height - h + 1)
            x0 = np.random.randint(0, width - w + 1)
            return int(x0), int(y0), w, h
    in_ratio = width / height
    if in_ratio < ratio[0]:
        w, h = width, int(round(width / ratio[0]))
    elif in_ratio > ratio[1]:
        w, h = int(round(height * ratio[1])), height
    else:
        w, h = width, height
    return (width - w) // 2, (height - h) // 2, w, h


def random_crop_in_frame(width: int, height: int, frame: Tuple[int, int],
                         scale: Tuple[float, float],
                         ratio: Tuple[float, float]) -> Tuple[int, int, int, int]:
    """A RandomResizedCrop-style region drawn in a resized frame (V1's), in image pixels.

    Area fraction and aspect ratio are measured in ``frame`` (w, h), the size the image is
    resized to (SoCo's "crop of V1"); mmcls's ``RandomResizedCrop`` has the same parameters
    (10 draws, torchvision's central-crop fallback) but draws in the decoded image's frame, as
    :func:`random_resized_crop`.  The crop is mapped back and rounded to whole image pixels.

    Returns:
        tuple[int]: ``(x0, y0, w, h)`` in the decoded image, at least one pixel each way.
    """
    w1, h1 = frame
    area = w1 * h1
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * np.random.uniform(*scale)
        aspect = math.exp(np.random.uniform(*log_ratio))
        cw, ch = math.sqrt(target * aspect), math.sqrt(target / aspect)
        if cw <= w1 and ch <= h1:
            x, y = np.random.uniform(0, w1 - cw), np.random.uniform(0, h1 - ch)
            break
    else:  # as torchvision: central crop with the aspect ratio clamped to the range
        aspect = min(max(w1 / h1, ratio[0]), ratio[1])
        cw, ch = (w1, w1 / aspect) if w1 / h1 < aspect else (h1 * aspect, h1)
        x, y = (w1 - cw) / 2, (h1 - ch) / 2
    sx, sy = width / w1, height / h1
    x0 = min(max(int(round(x * sx)), 0), width - 1)
    y0 = min(max(int(round(y * sy)), 0), height - 1)
    x1 = min(max(int(round((x + cw) * sx)), x0 + 1), width)
    y1 = min(max(int(round((y + ch) * sy)), y0 + 1), height)
    return x0, y0, x1 - x0, y1 - y0


def whole_matrix(width: int, height: int, size: Tuple[int, int]) -> np.ndarray:
    """Matrix (3, 3) of the whole ``width`` x ``height`` image resized to ``size``."""
    return scale_translate(size[0] / width, size[1] / height)


def downsample_matrix(source_matrix: np.ndarray, source_size: Tuple[int, int],
                      size: Tuple[int, int]) -> np.ndarray:
    """Matrix (3, 3) of a view made by resizing a view of ``source_size`` to ``size``."""
    return scale_translate(size[0] / source_size[0], size[1] / source_size[1]) @ source_matrix


__all__ = [
    'ViewSpec', 'parse_view_specs', 'as_size', 'halve_until_close', 'resize',
    'random_resized_crop', 'random_crop_in_frame', 'whole_matrix', 'downsample_matrix',
    'crop_resize_matrix', 'INTERPOLATIONS'
]
