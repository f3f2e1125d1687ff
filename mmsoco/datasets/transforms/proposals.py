"""Proposal-level transforms: fit the proposals to the image, draw K of them, jitter boxes."""
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform

from mmsoco.registry import TRANSFORMS

from ..fallbacks import FallbackCounter
from .box_ops import box_sizes, clip_boxes

#: ``proposal_ids`` value of a box that is not from the image's proposal list (whole-image box).
WHOLE_IMAGE_ID = -1


@TRANSFORMS.register_module()
class FitProposals(BaseTransform):
    """Fit an image's proposals to its decoded pixels; keep all of them.

    Run after ``LoadImageFromFile``.  The proposals arrive from :class:`SoCoDataset` in original
    image pixels; they are clipped to the image and boxes left without area are discarded.  The
    released recipes (:class:`SoCoOriginalViews`) take them all from here; :class:`SelectProposals`
    draws K of them.

    When the decoded image's size differs from the size recorded with its proposals (the file
    was re-encoded, resized, or is rotated by its EXIF orientation since the proposals were
    computed):

    - same aspect ratio (up to one pixel of rounding per side): the boxes are rescaled; fallback
      ``size_rescaled``, logged with the image's path;
    - another aspect ratio (e.g. a 90 degree rotation): the boxes cannot be mapped, and
      stretching them would train on wrong objects, so the image is refused: fallback
      ``size_refused``, logged with its path, and the transform returns ``None`` so the dataset
      draws another sample (as :class:`LoadImageOrSkip` does for unreadable files).

    Fallback ``no_proposals``: an image without any usable proposal gets the whole image as its
    only box, with id ``-1`` (:data:`WHOLE_IMAGE_ID`).

    Required keys: ``img``, ``proposals`` (float32 (n, 4) x1, y1, x2, y2).
    Optional keys: ``proposal_ids`` (int (n,), default ``arange(n)``), ``proposals_image_size``
    ((w, h) the proposals were computed at).
    Modified keys: ``proposals`` (float32 (k, 4)), ``proposal_ids`` (int64 (k,)).

    Args:
        log_interval (int): Samples between fallback summaries. Defaults to 1000.
    """

    def __init__(self, log_interval: int = 1000) -> None:
        self.fallbacks = FallbackCounter(
            type(self).__name__,
            dict(no_proposals='image without usable proposals: the whole image is its box',
                 size_rescaled='decoded image size differs from the size recorded with its '
                 'proposals, same aspect ratio: boxes rescaled',
                 size_refused='decoded image has another aspect ratio than recorded with its '
                 'proposals (e.g. EXIF rotation): image skipped, another sample drawn'),
            log_interval)

    @staticmethod
    def same_aspect(recorded, decoded) -> bool:
        """Whether a (w, h) image resized to ``decoded`` (W, H) explains the difference.

        Resizing by ``s`` and rounding each side to whole pixels moves W / w and H / h apart
        by at most 0.5 / w + 0.5 / h; one pixel per side is allowed.
        """
        (w, h), (dw, dh) = recorded, decoded
        return abs(dw / w - dh / h) <= 1.0 / w + 1.0 / h

    def fit(self, results: dict):
        """The usable boxes (float32 (k, 4)) and their ids (int64 (k,)), or None to skip."""
        height, width = results['img'].shape[:2]
        boxes = np.asarray(results.get('proposals', np.zeros((0, 4))), np.float32).reshape(-1, 4)
        ids = results.get('proposal_ids')
        ids = np.arange(len(boxes)) if ids is None else np.asarray(ids)
        ids = ids.astype(np.int64)

        size = results.get('proposals_image_size')
        if size is not None and min(size) > 0 and tuple(size) != (width, height):
            how = (f'decoded {width}x{height}, proposals computed at {size[0]}x{size[1]}')
            if not self.same_aspect(size, (width, height)):
                self.fallbacks.add('size_refused', path=results.get('img_path'),
                                   reason=how + ' (aspect ratio changed): skipped')
                self.fallbacks.step()
                return None  # the count stays pending and travels with the next sample
            self.fallbacks.add('size_rescaled', path=results.get('img_path'),
                               reason=how + ': boxes rescaled')
            boxes = boxes * np.array([width / size[0], height / size[1]] * 2, np.float32)
        boxes = clip_boxes(boxes, width, height)
        w, h = box_sizes(boxes)
        usable = (w > 0) & (h > 0)
        boxes, ids = boxes[usable], ids[usable]
        if len(boxes) == 0:
            self.fallbacks.add('no_proposals')
            boxes = np.array([[0, 0, width, height]], np.float32)
            ids = np.array([WHOLE_IMAGE_ID], np.int64)
        return boxes, ids

    def transform(self, results: dict) -> Optional[dict]:
        fitted = self.fit(results)
        if fitted is None:
            return None
        self.fallbacks.step()
        self.fallbacks.attach(results)
        results['proposals'], results['proposal_ids'] = fitted
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}()'


@TRANSFORMS.register_module()
class SelectProposals(FitProposals):
    """Fit the proposals (see :class:`FitProposals`), then draw ``num_proposals`` of them at
    random, without replacement: the K proposals every view of :class:`SoCoViews` follows.

    Images with fewer than ``num_proposals`` proposals keep all of them, in random order (the
    view transform pads later).

    Required keys: ``img``, ``proposals``.  Optional keys: as :class:`FitProposals`.
    Modified keys: ``proposals`` (float32 (k, 4)), ``proposal_ids`` (int64 (k,)).
    Added keys: ``num_proposals`` (int, the K every view is padded to).

    Args:
        num_proposals (int): K, proposals per image and iteration. Defaults to 4.
        log_interval (int): Samples between fallback summaries. Defaults to 1000.
    """

    def __init__(self, num_proposals: int = 4, log_interval: int = 1000, **unknown) -> None:
        if 'select' in unknown:
            raise TypeError("SelectProposals: select is no option any more; the released "
                            "recipes use dict(type='FitProposals') (all proposals) and "
                            "SoCoOriginalViews, which draws K per pair (docs/data_pipeline.md)")
        if unknown:
            raise TypeError(f'SelectProposals: unknown options {sorted(unknown)}')
        assert num_proposals >= 1
        super().__init__(log_interval)
        self.num_proposals = num_proposals

    def transform(self, results: dict) -> Optional[dict]:
        fitted = self.fit(results)
        if fitted is None:
            return None
        boxes, ids = fitted
        if len(boxes) > self.num_proposals:
            choice = np.random.choice(len(boxes), self.num_proposals, replace=False)
            boxes, ids = boxes[choice], ids[choice]
        elif ids[0] != WHOLE_IMAGE_ID:
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
