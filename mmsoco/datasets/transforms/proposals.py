"""Proposal-level transforms: draw K proposals per iteration and jitter boxes."""
import numpy as np
from mmcv.transforms import BaseTransform

from mmsoco.registry import TRANSFORMS

from ..fallbacks import FallbackCounter
from .box_ops import box_sizes, clip_boxes

#: ``proposal_ids`` value of a box that is not from the image's proposal list (whole-image box).
WHOLE_IMAGE_ID = -1


@TRANSFORMS.register_module()
class SelectProposals(BaseTransform):
    """Draw ``num_proposals`` of an image's proposals at random, without replacement.

    Run after ``LoadImageFromFile``.  The proposals arrive from :class:`SoCoDataset` in original
    image pixels; they are rescaled if the decoded image size differs from the size recorded with
    the proposals, clipped to the image, and boxes left without area are discarded.  Images with
    fewer than ``num_proposals`` proposals keep all of them (the view transform pads later).

    Fallback ``no_proposals``: an image without any usable proposal gets the whole image as its only
    box, with id ``-1`` (:data:`WHOLE_IMAGE_ID`).

    Required keys: ``img``, ``proposals`` (float32 (n, 4) x1, y1, x2, y2).
    Optional keys: ``proposal_ids`` (int (n,), default ``arange(n)``), ``proposals_image_size``
    ((w, h) the proposals were computed at).
    Modified keys: ``proposals`` (float32 (k, 4)), ``proposal_ids`` (int64 (k,)).
    Added keys: ``num_proposals`` (int, the K every view is padded to).

    Args:
        num_proposals (int): K, proposals per image and iteration. Defaults to 4.
        log_interval (int): Samples between fallback summaries. Defaults to 1000.
    """

    def __init__(self, num_proposals: int = 4, log_interval: int = 1000) -> None:
        assert num_proposals >= 1
        self.num_proposals = num_proposals
        self.fallbacks = FallbackCounter(
            'SelectProposals',
            dict(no_proposals='image without usable proposals: the whole image is its box'),
            log_interval)

    def transform(self, results: dict) -> dict:
        height, width = results['img'].shape[:2]
        boxes = np.asarray(results.get('proposals', np.zeros((0, 4))), np.float32).reshape(-1, 4)
        ids = results.get('proposal_ids')
        ids = np.arange(len(boxes)) if ids is None else np.asarray(ids)
        ids = ids.astype(np.int64)

        size = results.get('proposals_image_size')
        if (size is not None and len(boxes) and min(size) > 0
                and tuple(size) != (width, height)):
            boxes = boxes * np.array([width / size[0], height / size[1]] * 2, np.float32)
        boxes = clip_boxes(boxes, width, height)
        w, h = box_sizes(boxes)
        usable = (w > 0) & (h > 0)
        boxes, ids = boxes[usable], ids[usable]

        if len(boxes) == 0:
            self.fallbacks.add('no_proposals')
            boxes = np.array([[0, 0, width, height]], np.float32)
            ids = np.array([WHOLE_IMAGE_ID], np.int64)
        elif len(boxes) > self.num_proposals:
            choice = np.random.choice(len(boxes), self.num_proposals, replace=False)
            boxes, ids = boxes[choice], ids[choice]
        else:
            order = np.random.permutation(len(boxes))
            boxes, ids = boxes[order], ids[order]
        self.fallbacks.step()
        self.fallbacks.attach(results)

        results['proposals'] = boxes
        results['proposal_ids'] = ids
        results['num_proposals'] = self.num_proposals
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(num_proposals={self.num_proposals})'


@TRANSFORMS.register_module()
class BoxJitter(BaseTransform):
    """Box jitter, SoCo's object-level augmentation.

    Each box is jittered with probability ``prob``: with ``(x, y)`` its top-left corner and
    ``(w, h)`` its size, ``x += r1 * w``, ``y += r2 * h``, ``w += r3 * w``, ``h += r4 * h`` with
    ``r1..r4 ~ U[-ratio, ratio]``; the result is clipped to the image.  Placed in each view's
    sub-pipeline of :class:`SoCoViews`, it jitters the views independently, so the same proposal
    moves and rescales between views.  Boxes that shrink below a pixel are removed by
    :class:`SoCoViews` after the sub-pipelines.

    Required keys: ``img`` (or ``img_shape``), ``proposals``.
    Modified keys: ``proposals``.

    Args:
        prob (float): Probability that a box is jittered. Defaults to 0.5.
        ratio (float): Bound of the uniform jitter factors. Defaults to 0.1.
    """

    def __init__(self, prob: float = 0.5, ratio: float = 0.1) -> None:
        assert 0 <= prob <= 1 and ratio >= 0
        self.prob = prob
        self.ratio = ratio

    def transform(self, results: dict) -> dict:
        boxes = results['proposals']
        if len(boxes) == 0 or self.prob == 0:
            return results
        height, width = results['img'].shape[:2]
        n = len(boxes)
        jitter = np.random.rand(n) < self.prob
        r = np.random.uniform(-self.ratio, self.ratio, size=(n, 4)) * jitter[:, None]
        w, h = box_sizes(boxes)
        x = boxes[:, 0] + r[:, 0] * w
        y = boxes[:, 1] + r[:, 1] * h
        w = w * (1 + r[:, 2])
        h = h * (1 + r[:, 3])
        out = np.stack([x, y, x + w, y + h], axis=1).astype(np.float32)
        results['proposals'] = clip_boxes(out, width, height)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob}, ratio={self.ratio})'
