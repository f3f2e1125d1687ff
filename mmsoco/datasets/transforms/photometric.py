"""BYOL's photometric augmentations on uint8 BGR images, with lookup tables and OpenCV.

They draw from the same distributions as torchvision's (and mmselfsup's) ``ColorJitter``,
``RandomGrayscale``, ``GaussianBlur`` and ``RandomSolarize``, but every pixel operation is a
``cv2.LUT``, ``cv2.addWeighted``, ``cv2.cvtColor`` or ``cv2.GaussianBlur`` on uint8 data, with no
float image and no PIL round trip; they are the per-view augmentations of the SoCo pipeline (see
``tools/benchmarks/benchmark_pipeline.py``).  Images are BGR as ``LoadImageFromFile`` gives them.
Each transform carries its own probability, so no ``RandomApply`` wrapper is needed.
"""
from typing import Sequence, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from mmsoco.registry import TRANSFORMS

_RAMP = np.arange(256, dtype=np.float32)


def _lut(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def adjust_brightness(img: np.ndarray, factor: float) -> np.ndarray:
    """``img * factor``, saturated."""
    return cv2.LUT(img, _lut(_RAMP * factor))


def adjust_contrast(img: np.ndarray, factor: float) -> np.ndarray:
    """Blend with the mean grey level: ``factor * img + (1 - factor) * mean(gray)``."""
    mean = cv2.mean(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))[0]
    return cv2.LUT(img, _lut(_RAMP * factor + (1 - factor) * mean))


def adjust_saturation(img: np.ndarray, factor: float) -> np.ndarray:
    """Blend with the grey image: ``factor * img + (1 - factor) * gray``."""
    gray = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return cv2.addWeighted(img, factor, gray, 1 - factor, 0)


def adjust_hue(img: np.ndarray, factor: float) -> np.ndarray:
    """Rotate the hue by ``factor`` turns (``factor`` in [-0.5, 0.5]), as torchvision's PIL path."""
    lut = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)  # 1 x 256 x 3 (HSV)
    lut[0, :, 0] = (np.arange(256) + int(factor * 255)) % 256  # truncated, as torchvision
    hsv = cv2.LUT(cv2.cvtColor(img, cv2.COLOR_BGR2HSV_FULL), lut)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR_FULL)


@TRANSFORMS.register_module()
class FastColorJitter(BaseTransform):
    """Colour jitter with probability ``prob``; BYOL uses (0.4, 0.4, 0.2, 0.1) and p=0.8.

    As torchvision's ``ColorJitter``: factors ``U[max(0, 1 - b), 1 + b]`` for brightness, contrast
    and saturation, a hue shift ``U[-hue, hue]``, applied in a random order.

    Required keys: ``img`` (uint8 (h, w, 3) BGR).  Modified keys: ``img``.

    Args:
        brightness (float): Defaults to 0.4.
        contrast (float): Defaults to 0.4.
        saturation (float): Defaults to 0.2.
        hue (float): At most 0.5. Defaults to 0.1.
        prob (float): Probability of jittering at all. Defaults to 0.8.
    """

    def __init__(self, brightness: float = 0.4, contrast: float = 0.4, saturation: float = 0.2,
                 hue: float = 0.1, prob: float = 0.8) -> None:
        assert 0 <= hue <= 0.5 and 0 <= prob <= 1
        self.brightness = brightness
        self.contrast = contrast
        self.saturation = saturation
        self.hue = hue
        self.prob = prob

    def transform(self, results: dict) -> dict:
        if np.random.rand() >= self.prob:
            return results
        img = results['img']
        ops = (
            (adjust_brightness, self.brightness, 1.),
            (adjust_contrast, self.contrast, 1.),
            (adjust_saturation, self.saturation, 1.),
            (adjust_hue, self.hue, 0.),
        )
        for idx in np.random.permutation(4):
            op, amount, centre = ops[idx]
            if amount <= 0:
                continue
            low = max(0., centre - amount) if centre else -amount
            img = op(img, np.random.uniform(low, centre + amount))
        results['img'] = img
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(brightness={self.brightness}, '
                f'contrast={self.contrast}, saturation={self.saturation}, hue={self.hue}, '
                f'prob={self.prob})')


@TRANSFORMS.register_module()
class FastGrayscale(BaseTransform):
    """Convert to grey (kept as three channels) with probability ``prob`` (BYOL: 0.2).

    Required keys: ``img``.  Modified keys: ``img``.

    Args:
        prob (float): Defaults to 0.2.
    """

    def __init__(self, prob: float = 0.2) -> None:
        self.prob = prob

    def transform(self, results: dict) -> dict:
        if np.random.rand() < self.prob:
            gray = cv2.cvtColor(results['img'], cv2.COLOR_BGR2GRAY)
            results['img'] = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob})'


@TRANSFORMS.register_module()
class FastGaussianBlur(BaseTransform):
    """Gaussian blur with ``sigma ~ U[sigma_min, sigma_max]`` and probability ``prob``.

    BYOL: sigma in [0.1, 2.0], p=1.0 on the first view and 0.1 on the others.  The kernel covers
    +-3 sigma (OpenCV's choice for uint8) unless ``kernel_size`` is given.

    Required keys: ``img``.  Modified keys: ``img``.

    Args:
        sigma_min (float): Defaults to 0.1.
        sigma_max (float): Defaults to 2.0.
        prob (float): Defaults to 0.5.
        kernel_size (int): Odd kernel size; 0 derives it from sigma. Defaults to 0.
    """

    def __init__(self, sigma_min: float = 0.1, sigma_max: float = 2.0, prob: float = 0.5,
                 kernel_size: int = 0) -> None:
        assert 0 < sigma_min <= sigma_max
        assert kernel_size == 0 or kernel_size % 2 == 1
        self.sigma_min = sigma_min
        self.sigma_max = sigma_max
        self.prob = prob
        self.kernel_size = kernel_size

    def transform(self, results: dict) -> dict:
        if np.random.rand() < self.prob:
            sigma = np.random.uniform(self.sigma_min, self.sigma_max)
            k = self.kernel_size
            results['img'] = cv2.GaussianBlur(results['img'], (k, k), sigma, sigmaY=sigma)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(sigma=({self.sigma_min}, {self.sigma_max}), '
                f'prob={self.prob})')


@TRANSFORMS.register_module()
class FastSolarize(BaseTransform):
    """Invert the pixels at or above ``threshold`` with probability ``prob`` (BYOL: 0 / 0.2).

    Required keys: ``img``.  Modified keys: ``img``.

    Args:
        threshold (int): Defaults to 128.
        prob (float): Defaults to 0.5.
    """

    def __init__(self, threshold: int = 128, prob: float = 0.5) -> None:
        self.threshold = threshold
        self.prob = prob
        ramp = np.arange(256)
        self._lut = np.where(ramp < threshold, ramp, 255 - ramp).astype(np.uint8)

    def transform(self, results: dict) -> dict:
        if np.random.rand() < self.prob:
            results['img'] = cv2.LUT(results['img'], self._lut)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(threshold={self.threshold}, prob={self.prob})'


@TRANSFORMS.register_module()
class BoxCutout(BaseTransform):
    """Cut part of each proposal out, with probability ``prob`` per box (off in the paper).

    The paper does not mention it; the original code's ``RandomCutoutInBbox`` does it in some of
    the released recipes.  Two modes:

    - ``'inside'`` (default): a rectangle whose width and height are fractions ``U[scale]`` of
      the box's, placed uniformly inside the box.
    - ``'original'``: ``RandomCutoutInBbox``.  A square of area ``U[area]`` times the box's,
      side ``s = round(sqrt(area))``, covering pixels ``c - s // 2 .. c + s // 2`` around a centre
      pixel ``c`` drawn uniformly among the pixels the box covers, clipped to the view.  The
      original draws that centre with ``random.randint`` on fractional coordinates, which
      Python refuses; this reads it as the integer part of each bound of its inclusive box.
      Placed last in a view's sub-pipeline (after flip and colour) with ``fill`` the data
      preprocessor's mean, it is the original's zero fill of the normalised tensor (to the
      rounding of the mean to whole grey levels).

    Runs over every box the view carries, the repeats that pad to K included, as the original.

    Required keys: ``img``, ``proposals``.  Modified keys: ``img``.

    Args:
        prob (float): Probability per box. Defaults to 0.5.
        scale (tuple): ``'inside'``: range of the side fractions. Defaults to (0.2, 0.5).
        fill (sequence[float]): Fill colour, BGR, rounded to uint8. Defaults to (0, 0, 0).
        mode (str): ``'inside'`` or ``'original'``. Defaults to ``'inside'``.
        area (tuple): ``'original'``: range of the square's area over the box's.
            Defaults to (0.1, 0.3).
    """

    def __init__(self, prob: float = 0.5, scale: Tuple[float, float] = (0.2, 0.5),
                 fill: Sequence[float] = (0, 0, 0), mode: str = 'inside',
                 area: Tuple[float, float] = (0.1, 0.3)) -> None:
        assert 0 < scale[0] <= scale[1] <= 1 and 0 < area[0] <= area[1] <= 1
        if mode not in ('inside', 'original'):
            raise ValueError(f"BoxCutout: mode must be 'inside' or 'original', got {mode!r}")
        self.prob = prob
        self.scale = tuple(scale)
        self.mode = mode
        self.area = tuple(area)
        self.fill = tuple(int(np.clip(np.rint(v), 0, 255)) for v in fill)

    def _original_region(self, box, width: int, height: int):
        """Rows and columns (inclusive) of the original's square for one box, clipped."""
        x1, y1, x2, y2 = (float(v) for v in box)
        side = int(round(np.sqrt(np.random.uniform(*self.area) * (x2 - x1) * (y2 - y1))))
        half = side // 2
        # the pixels the box covers: floor(x1) .. ceil(x2) - 1
        cx = np.random.randint(int(np.floor(x1)), max(int(np.ceil(x2)), int(np.floor(x1)) + 1))
        cy = np.random.randint(int(np.floor(y1)), max(int(np.ceil(y2)), int(np.floor(y1)) + 1))
        return (max(cy - half, 0), min(cy + half, height - 1),
                max(cx - half, 0), min(cx + half, width - 1))

    def transform(self, results: dict) -> dict:
        boxes = results.get('proposals', ())
        if len(boxes) == 0 or self.prob == 0:
            return results
        img = results['img'].copy()
        height, width = img.shape[:2]
        for box in boxes:
            if np.random.rand() >= self.prob:
                continue
            if self.mode == 'original':
                r0, r1, c0, c1 = self._original_region(box, width, height)
                img[r0:r1 + 1, c0:c1 + 1] = self.fill[:img.shape[2]]
                continue
            x1, y1, x2, y2 = box
            fw, fh = np.random.uniform(*self.scale, size=2)
            cw, ch = (x2 - x1) * fw, (y2 - y1) * fh
            cx = x1 + np.random.uniform(0, x2 - x1 - cw)
            cy = y1 + np.random.uniform(0, y2 - y1 - ch)
            c0, r0 = int(round(cx)), int(round(cy))
            c1, r1 = int(round(cx + cw)), int(round(cy + ch))
            img[r0:r1, c0:c1] = self.fill[:img.shape[2]]
        results['img'] = img
        return results

    def __repr__(self) -> str:
        extent = f'area={self.area}' if self.mode == 'original' else f'scale={self.scale}'
        return (f'{self.__class__.__name__}(mode={self.mode!r}, prob={self.prob}, {extent}, '
                f'fill={self.fill})')
