"""Selective search (Uijlings et al., IJCV 2013) through OpenCV's ximgproc, set up explicitly.

OpenCV's ready-made modes (``switchToSelectiveSearchFast``/``Quality``) run several colour
spaces, segmentation thresholds and strategies per image and are slow (~2.4 s for a 500 px
image). :class:`SelectiveSearch` builds the search explicitly: ``addImage`` per colour space,
``addGraphSegmentation`` per Felzenszwalb-Huttenlocher threshold k, ``addStrategy`` with one
strategy combining the chosen similarities, then ``process()``.

The segmentation runs on a downscaled copy of the image (``scale``: its longer side in pixels);
boxes are mapped back to the original pixels. SoCo keeps only boxes between 0.3 and 0.8 of the
image's size, which a downscaled copy still delineates. The original code ran one segmentation
(sigma 0.9, k 300, min size 100) on the full-size image; on a small copy one segmentation
yields about half the boxes the paper's filter keeps, so the default adds two finer
segmentations (k 100 and 50).  The default copy (150 px) is the fastest scale, of 150-300 px,
whose recall is at least the original's on each of four real labelled sets and the bundled
photos (docs/benchmarks.md, "Segmentation scale"): there it runs about 30x faster.
"""
from dataclasses import asdict, dataclass, field
from typing import Sequence, Tuple

import cv2
import numpy as np

_SEG = cv2.ximgproc.segmentation

STRATEGIES = {
    'color': _SEG.createSelectiveSearchSegmentationStrategyColor,
    'fill': _SEG.createSelectiveSearchSegmentationStrategyFill,
    'size': _SEG.createSelectiveSearchSegmentationStrategySize,
    'texture': _SEG.createSelectiveSearchSegmentationStrategyTexture,
}
COLOR_SPACES = {
    'hsv': cv2.COLOR_BGR2HSV,
    'lab': cv2.COLOR_BGR2Lab,
    'rgb': None,  # the BGR image as it is
    'ycrcb': cv2.COLOR_BGR2YCrCb,
}
DEFAULT_STRATEGY = 'color+fill+size+texture'
DEFAULT_COLOR_SPACES = ('rgb', )  # as the pure-Python package segments; measured best recall
DEFAULT_SCALE = 150  # longer side (px) the segmentation runs at; 0 = the image's own size
DEFAULT_K = (300.0, 100.0, 50.0)  # the original's k 300, and two finer segmentations
MAX_SIDE = 2048  # even at scale 0, larger images are segmented at this longer side


def parse_strategy(spec: str) -> Tuple[str, ...]:
    """'color+fill+size+texture' (or 'all') -> the similarity names, validated."""
    if spec.strip().lower() == 'all':
        return tuple(STRATEGIES)
    names = tuple(s.strip().lower() for s in spec.replace(',', '+').split('+') if s.strip())
    bad = [n for n in names if n not in STRATEGIES]
    if not names or bad:
        raise ValueError(f'strategy {spec!r}: use "all" or "+"-joined names from '
                         f'{sorted(STRATEGIES)}')
    return names


@dataclass(frozen=True)
class SelectiveSearch:
    """One selective-search setting; call it on a BGR image to get boxes.

    Args:
        sigma (float): Gaussian smoothing of the Felzenszwalb segmentation. Defaults to 0.9.
        k (sequence[float]): Felzenszwalb threshold(s) ("scale" in scikit-image); one
            segmentation per value. Defaults to (300, 100, 50).
        min_size (int): Smallest segment (px, at the segmentation scale). Defaults to 100.
        strategy (str): Similarities combined into one grouping strategy, '+'-joined from
            color, fill, size, texture, or 'all'. Defaults to all four.
        color_spaces (sequence[str]): Colour space(s) the image is grouped in, one pass each,
            from hsv, lab, rgb, ycrcb. Defaults to ('rgb',).
        scale (int): Longer side (px) of the copy the segmentation runs on; images already
            smaller are not enlarged; 0 runs at the image's own size (up to ``MAX_SIDE``).
            Defaults to 150 (:data:`DEFAULT_SCALE`).
        rescale_params (bool): ``sigma``, ``k`` and ``min_size`` describe the image at its own
            size and are mapped to the working copy shrunk by ``f`` (sigma * f, k * f^2,
            min_size * f^2: the Felzenszwalb threshold k / |C| and the minimum segment then
            bound the same image areas), so the shrunk copy is cut into about as many
            segments as the full-size image. Defaults to False.
    """

    sigma: float = 0.9
    k: Sequence[float] = field(default=DEFAULT_K)
    min_size: int = 100
    strategy: str = DEFAULT_STRATEGY
    color_spaces: Sequence[str] = field(default=DEFAULT_COLOR_SPACES)
    scale: int = DEFAULT_SCALE
    rescale_params: bool = False

    def __post_init__(self):
        object.__setattr__(self, 'k', tuple(float(k) for k in np.atleast_1d(self.k)))
        object.__setattr__(self, 'color_spaces',
                           tuple(c.lower() for c in np.atleast_1d(self.color_spaces)))
        object.__setattr__(self, 'strategy', '+'.join(parse_strategy(self.strategy)))
        bad = [c for c in self.color_spaces if c not in COLOR_SPACES]
        if bad or not self.color_spaces:
            raise ValueError(f'color space(s) {bad}: choose from {sorted(COLOR_SPACES)}')
        if self.scale < 0 or self.min_size < 1 or self.sigma < 0 or min(self.k) <= 0:
            raise ValueError(f'invalid selective search setting {self}')

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(k=list(self.k), color_spaces=list(self.color_spaces))
        return d

    def working_size(self, width: int, height: int) -> Tuple[int, int]:
        """(w, h) of the copy the segmentation runs on."""
        target = self.scale if self.scale > 0 else MAX_SIDE
        target = min(target, MAX_SIDE)
        longer = max(width, height)
        if longer <= target:
            return width, height
        f = target / longer
        return max(1, round(width * f)), max(1, round(height * f))

    def working_params(self, width: int, height: int) -> Tuple[float, Tuple[float, ...], int]:
        """(sigma, k values, min_size) the segmentation of a W x H image runs with."""
        ws, hs = self.working_size(width, height)
        if not self.rescale_params or (ws, hs) == (width, height):
            return self.sigma, self.k, self.min_size
        f2 = (ws * hs) / (width * height)  # area factor of the working copy
        return (self.sigma * f2**0.5, tuple(k * f2 for k in self.k),
                max(1, int(round(self.min_size * f2))))

    def __call__(self, img: np.ndarray) -> np.ndarray:
        """Proposals of one image.

        Args:
            img (np.ndarray): (H, W, 3) uint8 BGR.

        Returns:
            np.ndarray: float64 (n, 4) x1, y1, x2, y2 in the image's pixels (x2, y2 exclusive),
            whole pixels, unique, sorted (deterministic: OpenCV shuffles its own order).
        """
        height, width = img.shape[:2]
        ws, hs = self.working_size(width, height)
        small = img if (ws, hs) == (width, height) else cv2.resize(
            img, (ws, hs), interpolation=cv2.INTER_AREA)
        ss = _SEG.createSelectiveSearchSegmentation()
        for space in self.color_spaces:
            code = COLOR_SPACES[space]
            ss.addImage(small if code is None else cv2.cvtColor(small, code))
        sigma, ks, min_size = self.working_params(width, height)
        for k in ks:
            ss.addGraphSegmentation(_SEG.createGraphSegmentation(sigma, k, min_size))
        parts = [STRATEGIES[name]() for name in self.strategy.split('+')]
        ss.addStrategy(parts[0] if len(parts) == 1 else
                       _SEG.createSelectiveSearchSegmentationStrategyMultiple(*parts))
        rects = np.asarray(ss.process(), dtype=np.float64).reshape(-1, 4)  # x, y, w, h
        boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1)
        boxes *= np.array([width / ws, height / hs, width / ws, height / hs])
        boxes = np.round(boxes)
        np.clip(boxes, 0, [width, height, width, height], out=boxes)
        boxes = boxes[(boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])]
        return np.unique(boxes, axis=0) if len(boxes) else boxes.reshape(0, 4)
