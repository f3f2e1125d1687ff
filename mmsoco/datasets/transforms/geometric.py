"""Geometric transforms that move boxes with the pixels."""
import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from mmsoco.registry import TRANSFORMS

from .box_ops import hflip_matrix, map_boxes


@TRANSFORMS.register_module()
class BoxAwareRandomFlip(BaseTransform):
    """Horizontal flip of the image and of its boxes, with probability ``prob``.

    Inside a :class:`SoCoViews` sub-pipeline it also updates the view's geometry (``view_matrix``,
    original image -> view coordinates), so that a box added later (the whole-image fallback) lands
    where the pixels are.

    Required keys: ``img``.
    Optional keys: ``proposals`` (n, 4), ``view_matrix`` (3, 3).
    Modified keys: ``img``, ``proposals``, ``view_matrix``.
    Added keys: ``flip`` (bool).

    Args:
        prob (float): Probability of flipping. Defaults to 0.5.
    """

    def __init__(self, prob: float = 0.5) -> None:
        assert 0 <= prob <= 1
        self.prob = prob

    def transform(self, results: dict) -> dict:
        flip = np.random.rand() < self.prob
        results['flip'] = bool(flip)
        if not flip:
            return results
        img = results['img']
        width = img.shape[1]
        results['img'] = cv2.flip(img, 1)
        matrix = hflip_matrix(width)
        if 'proposals' in results:
            results['proposals'] = map_boxes(results['proposals'], matrix)
        if 'view_matrix' in results:
            results['view_matrix'] = matrix @ results['view_matrix']
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob})'
