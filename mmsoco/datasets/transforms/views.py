"""SoCo's object-level views V1-V4, with the proposals followed through every view."""
import math
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform, Compose

from mmsoco.registry import TRANSFORMS

from ..fallbacks import FallbackCounter
from .box_ops import (box_sizes, clip_boxes, crop_resize_matrix, map_boxes, scale_translate,
                      visible_mask)
from .proposals import WHOLE_IMAGE_ID

Size = Union[int, Tuple[int, int]]

_INTERPOLATIONS = dict(
    bilinear=cv2.INTER_LINEAR, area=cv2.INTER_AREA, bicubic=cv2.INTER_CUBIC,
    nearest=cv2.INTER_NEAREST)


def _as_size(size: Size) -> Tuple[int, int]:
    """``224`` or ``(w, h)`` -> ``(w, h)``."""
    if isinstance(size, int):
        return size, size
    width, height = size
    return int(width), int(height)


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


@TRANSFORMS.register_module()
class SoCoViews(BaseTransform):
    """Build SoCo's views of one image and follow the selected proposals through all of them.

    Geometry (sizes are ``(w, h)`` or an int for a square):

    - **V1**: the whole image resized to ``v1_size`` (224x224).
    - **V2**: a random crop of V1 (area fraction in ``v2_scale`` = [0.5, 1], aspect ratio in
      ``crop_ratio``, both measured in V1's frame) resized to ``v2_size`` (224x224).
    - **V3**: V2 downsampled to ``v3_size`` (112x112), the paper's way
      (``v3_mode='downsample'``); ``v3_mode='crop'`` draws an independent crop of V1 (area in
      ``v3_scale``), as the original code does.
    - **V4** (SoCo*, only when ``v4_size`` is set): another random crop of V1 (area in
      ``v4_scale``) resized to ``v4_size`` (192x192).

    Crops are drawn in V1's frame; their pixels are resampled once from the decoded image (the crop
    mapped back to original pixels and rounded to whole pixels), never from the already-resized V1,
    and the recorded geometry is that of the rounded crop, so boxes stay exact.

    A proposal is kept in a crop when its clipped part has a positive area and more than
    ``min_visible`` of its area (default 0: only proposals entirely outside are dropped); kept
    boxes are clipped to the view.  A crop must keep at least ``min_box_size`` pixels of at least
    one proposal shared with the views drawn before it; otherwise it is redrawn, up to
    ``max_crop_attempts`` times, then the crop falls back to the whole of V1.

    Each view is then passed through its own sub-pipeline (``view_transforms``: flip, box jitter,
    colour augmentations), which sees a results dict with ``img``, ``img_shape``, ``proposals``
    (boxes in the view's pixels), ``proposal_ids`` and ``view_matrix`` (3x3, original image ->
    view coordinates, kept up to date by :class:`BoxAwareRandomFlip`).

    Finally every view gets exactly K boxes: boxes clipped below ``min_box_size`` are removed, the
    proposals present in every view are kept in the same order in all views, and the list is padded
    to K by repeating them (``proposal_valid`` marks the originals).  If no proposal is common to
    all views, the whole image mapped into each view is the single box, with id -1.

    Fallbacks, counted in ``self.fallbacks`` and logged: ``crop_redraws`` (crops redrawn because
    they kept no proposal), ``crop_whole_view`` (crops that fell back to the whole of V1),
    ``tiny_boxes`` (boxes removed for being under ``min_box_size``), ``no_common_proposal``.

    Required keys: ``img``, ``proposals`` (float32 (k, 4), original pixels), ``proposal_ids``.
    Optional keys: ``num_proposals`` (K; default the number of proposals).
    Modified keys: ``img`` (list of the views, V1 first, each uint8 (h, w, 3) BGR).
    Added keys: ``view_bboxes`` (float32 (V, K, 4) in each view's pixels), ``view_proposal_ids``
    (int64 (V, K)), ``proposal_valid`` (bool (K,)), ``view_shapes`` (list of (h, w)),
    ``view_flips`` (list of bool).

    Args:
        view_transforms (list[list[dict]], optional): One sub-pipeline per view, in the order V1,
            V2, V3(, V4). ``None`` applies none.
        v1_size (int | tuple): Size of V1. Defaults to 224.
        v2_size (int | tuple): Size of V2. Defaults to 224.
        v2_scale (tuple): Area fraction of V1 covered by V2's crop. Defaults to (0.5, 1.0).
        v3_size (int | tuple, optional): Size of V3; ``None`` builds two views (V1, V2), as the
            C4 variant uses. Defaults to 112.
        v3_mode (str): ``'downsample'`` (V3 is V2 downsampled, the paper) or ``'crop'`` (V3 is an
            independent crop of V1, the original code). Defaults to ``'downsample'``.
        v3_scale (tuple): Area fraction of V3's crop in ``'crop'`` mode. Defaults to (0.5, 1.0).
        v4_size (int | tuple, optional): Size of V4; ``None`` builds three views. Defaults to None.
        v4_scale (tuple): Area fraction of V1 covered by V4's crop. Defaults to (0.5, 1.0).
        crop_ratio (tuple): Aspect-ratio range of the crops in V1's frame.
            Defaults to (3/4, 4/3).
        min_visible (float): Fraction of a proposal's area that must stay inside a crop.
            Defaults to 0.
        min_box_size (float): Boxes narrower or lower than this, in view pixels, are removed.
            Defaults to 1.
        max_crop_attempts (int): Draws of a crop before falling back to the whole of V1.
            Defaults to 10.
        interpolation (str): ``'auto'`` (bilinear after halving the sides that shrink 2x or
            more, see :func:`halve_until_close`), ``'bilinear'``, ``'area'``, ``'bicubic'`` or
            ``'nearest'``. Defaults to ``'auto'``.
        log_interval (int): Samples between fallback summaries. Defaults to 1000.
    """

    def __init__(self,
                 view_transforms: Optional[Sequence[Sequence[dict]]] = None,
                 v1_size: Size = 224,
                 v2_size: Size = 224,
                 v2_scale: Tuple[float, float] = (0.5, 1.0),
                 v3_size: Optional[Size] = 112,
                 v3_mode: str = 'downsample',
                 v3_scale: Tuple[float, float] = (0.5, 1.0),
                 v4_size: Optional[Size] = None,
                 v4_scale: Tuple[float, float] = (0.5, 1.0),
                 crop_ratio: Tuple[float, float] = (3. / 4., 4. / 3.),
                 min_visible: float = 0.,
                 min_box_size: float = 1.,
                 max_crop_attempts: int = 10,
                 interpolation: str = 'auto',
                 log_interval: int = 1000) -> None:
        if v3_mode not in ('downsample', 'crop'):
            raise ValueError(f"v3_mode must be 'downsample' or 'crop', got {v3_mode!r}")
        if interpolation != 'auto' and interpolation not in _INTERPOLATIONS:
            raise ValueError(f'interpolation must be auto or one of {sorted(_INTERPOLATIONS)}')
        for scale in (v2_scale, v3_scale, v4_scale):
            assert 0 < scale[0] <= scale[1] <= 1, f'crop scale {scale} must lie in (0, 1]'
        assert 0 < crop_ratio[0] <= crop_ratio[1]
        assert max_crop_attempts >= 1
        self.v1_size = _as_size(v1_size)
        self.v2_size = _as_size(v2_size)
        self.v2_scale = tuple(v2_scale)
        if v3_size is None and v4_size is not None:
            raise ValueError('V4 needs V3: set v3_size when v4_size is set')
        self.v3_size = None if v3_size is None else _as_size(v3_size)
        self.v3_mode = v3_mode
        self.v3_scale = tuple(v3_scale)
        self.v4_size = None if v4_size is None else _as_size(v4_size)
        self.v4_scale = tuple(v4_scale)
        self.crop_ratio = tuple(crop_ratio)
        self.min_visible = min_visible
        self.min_box_size = min_box_size
        self.max_crop_attempts = max_crop_attempts
        self.interpolation = interpolation
        self.num_views = 2 + (self.v3_size is not None) + (self.v4_size is not None)

        if view_transforms is None:
            view_transforms = [[] for _ in range(self.num_views)]
        if len(view_transforms) != self.num_views:
            raise ValueError(f'view_transforms has {len(view_transforms)} sub-pipelines but '
                             f'{self.num_views} views are built (V3 is built iff v3_size is set, '
                             'V4 iff v4_size is set)')
        # built here with mmselfsup's registry, so that no default scope is needed
        self.view_pipelines = [
            Compose([TRANSFORMS.build(t) if isinstance(t, dict) else t for t in transforms])
            for transforms in view_transforms
        ]
        self.fallbacks = FallbackCounter(
            'SoCoViews',
            dict(crop_redraws='a crop kept no proposal and was drawn again',
                 crop_whole_view=f'{max_crop_attempts} crops kept no proposal: the view uses '
                 'the whole of V1',
                 tiny_boxes=f'boxes under {min_box_size} px in a view were removed',
                 no_common_proposal='no proposal survived in every view: the whole image is '
                 'the only box'),
            log_interval)

    # ------------------------------------------------------------------------------------------
    # geometry
    def _resize(self, img: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
        """Resize to ``size`` (w, h); the mapping is ``x' = x * w / W`` whatever the method."""
        if self.interpolation == 'auto':
            img = halve_until_close(img, size)
            flag = cv2.INTER_LINEAR
        else:
            flag = _INTERPOLATIONS[self.interpolation]
        out = cv2.resize(img, size, interpolation=flag)
        return out[..., None] if out.ndim == 2 else out

    def _random_crop(self, width: int, height: int,
                     scale: Tuple[float, float]) -> Tuple[int, int, int, int]:
        """RandomResizedCrop-style region drawn in V1's frame, returned in original pixels.

        mmcls's ``RandomResizedCrop`` has the same parameters (10 draws, torchvision's central-crop
        fallback) but draws in the decoded image's frame; SoCo draws in V1's (the resized image).

        Returns:
            tuple[int]: ``(x0, y0, w, h)`` in the decoded image, at least one pixel each way.
        """
        w1, h1 = self.v1_size
        area = w1 * h1
        log_ratio = (math.log(self.crop_ratio[0]), math.log(self.crop_ratio[1]))
        for _ in range(10):
            target = area * np.random.uniform(*scale)
            aspect = math.exp(np.random.uniform(*log_ratio))
            cw, ch = math.sqrt(target * aspect), math.sqrt(target / aspect)
            if cw <= w1 and ch <= h1:
                x, y = np.random.uniform(0, w1 - cw), np.random.uniform(0, h1 - ch)
                break
        else:  # as torchvision: central crop with the aspect ratio clamped to the range
            aspect = min(max(w1 / h1, self.crop_ratio[0]), self.crop_ratio[1])
            cw, ch = (w1, w1 / aspect) if w1 / h1 < aspect else (h1 * aspect, h1)
            x, y = (w1 - cw) / 2, (h1 - ch) / 2
        sx, sy = width / w1, height / h1
        x0 = min(max(int(round(x * sx)), 0), width - 1)
        y0 = min(max(int(round(y * sy)), 0), height - 1)
        x1 = min(max(int(round((x + cw) * sx)), x0 + 1), width)
        y1 = min(max(int(round((y + ch) * sy)), y0 + 1), height)
        return x0, y0, x1 - x0, y1 - y0

    def _draw_crop(self, img: np.ndarray, boxes: np.ndarray, candidates: np.ndarray,
                   scale: Tuple[float, float], size: Tuple[int, int]):
        """Draw a crop keeping at least one candidate proposal; fall back to the whole image.

        Returns:
            tuple: view image, matrix (original -> view), keep mask (k,) over ``boxes``.
        """
        height, width = img.shape[:2]
        crop = None
        if not candidates.any():
            # nothing left to keep (all proposals are gone already): any crop will do
            crop = self._random_crop(width, height, scale)
        for attempt in range(self.max_crop_attempts if crop is None else 0):
            drawn = self._random_crop(width, height, scale)
            mapped = map_boxes(boxes, crop_resize_matrix(drawn, size))
            if (visible_mask(mapped, *size, self.min_box_size, self.min_visible)
                    & candidates).any():
                self.fallbacks.add('crop_redraws', attempt)
                crop = drawn
                break
        if crop is None:
            self.fallbacks.add('crop_redraws', self.max_crop_attempts - 1)
            self.fallbacks.add('crop_whole_view')
            crop = (0, 0, width, height)
        matrix = crop_resize_matrix(crop, size)
        mapped = map_boxes(boxes, matrix)
        keep = visible_mask(mapped, *size, 0., self.min_visible)
        x0, y0, cw, ch = crop
        return self._resize(img[y0:y0 + ch, x0:x0 + cw], size), matrix, keep

    @staticmethod
    def _view(img, matrix, boxes, ids, keep) -> dict:
        height, width = img.shape[:2]
        return dict(
            img=img,
            img_shape=(height, width),
            proposals=clip_boxes(map_boxes(boxes[keep], matrix), width, height),
            proposal_ids=ids[keep],
            view_matrix=matrix)

    def _build_views(self, img: np.ndarray, boxes: np.ndarray, ids: np.ndarray) -> List[dict]:
        height, width = img.shape[:2]
        everything = np.ones(len(boxes), bool)

        m1 = scale_translate(self.v1_size[0] / width, self.v1_size[1] / height)
        views = [self._view(self._resize(img, self.v1_size), m1, boxes, ids, everything)]

        v2_img, m2, keep2 = self._draw_crop(img, boxes, everything, self.v2_scale, self.v2_size)
        views.append(self._view(v2_img, m2, boxes, ids, keep2))

        if self.v3_size is None:
            return views
        if self.v3_mode == 'downsample':
            m3 = scale_translate(self.v3_size[0] / self.v2_size[0],
                                 self.v3_size[1] / self.v2_size[1]) @ m2
            keep3 = keep2 & visible_mask(map_boxes(boxes, m3), *self.v3_size, 0.,
                                         self.min_visible)
            views.append(self._view(self._resize(v2_img, self.v3_size), m3, boxes, ids, keep3))
        else:
            v3_img, m3, keep3 = self._draw_crop(img, boxes, keep2, self.v3_scale, self.v3_size)
            views.append(self._view(v3_img, m3, boxes, ids, keep3))

        if self.v4_size is not None:
            v4_img, m4, keep4 = self._draw_crop(img, boxes, keep2 & keep3, self.v4_scale,
                                                self.v4_size)
            views.append(self._view(v4_img, m4, boxes, ids, keep4))
        return views

    # ------------------------------------------------------------------------------------------
    # correspondence
    def _align(self, views: List[dict], whole_image: np.ndarray, num_proposals: int):
        """K boxes per view for the proposals present in every view, padded by repetition."""
        present = []
        for view in views:
            height, width = view['img'].shape[:2]
            boxes = clip_boxes(np.asarray(view['proposals'], np.float32).reshape(-1, 4),
                               width, height)
            bw, bh = box_sizes(boxes)
            ok = (bw >= self.min_box_size) & (bh >= self.min_box_size)
            self.fallbacks.add('tiny_boxes', int((~ok).sum()))
            present.append(dict(zip(np.asarray(view['proposal_ids'])[ok].tolist(), boxes[ok])))

        common = [i for i in present[0] if all(i in p for p in present[1:])][:num_proposals]
        if not common:
            self.fallbacks.add('no_common_proposal')
            common = [WHOLE_IMAGE_ID]
            for view, boxes in zip(views, present):
                height, width = view['img'].shape[:2]
                boxes[WHOLE_IMAGE_ID] = clip_boxes(
                    map_boxes(whole_image, view['view_matrix']), width, height)[0]

        order = [common[j % len(common)] for j in range(num_proposals)]
        view_bboxes = np.stack([np.stack([p[i] for i in order]) for p in present])
        view_ids = np.tile(np.asarray(order, np.int64), (len(views), 1))
        valid = np.arange(num_proposals) < len(common)
        return view_bboxes.astype(np.float32), view_ids, valid

    def transform(self, results: dict) -> dict:
        img = results['img']
        height, width = img.shape[:2]
        boxes = np.asarray(results['proposals'], np.float32).reshape(-1, 4)
        ids = np.asarray(results['proposal_ids'], np.int64)
        num_proposals = int(results.get('num_proposals', max(len(boxes), 1)))

        views = []
        for view, pipeline in zip(self._build_views(img, boxes, ids), self.view_pipelines):
            view = pipeline(view)
            if view is None:
                raise RuntimeError(f'a view sub-pipeline of SoCoViews returned None: {pipeline}')
            views.append(view)

        whole_image = np.array([[0, 0, width, height]], np.float32)
        view_bboxes, view_ids, valid = self._align(views, whole_image, num_proposals)
        self.fallbacks.step()
        self.fallbacks.attach(results)

        results['img'] = [view['img'] for view in views]
        results['view_shapes'] = [view['img'].shape[:2] for view in views]
        results['view_flips'] = [bool(view.get('flip', False)) for view in views]
        results['view_bboxes'] = view_bboxes
        results['view_proposal_ids'] = view_ids
        results['proposal_valid'] = valid
        return results

    def __repr__(self) -> str:
        sizes = [self.v1_size, self.v2_size, self.v3_size] + ([self.v4_size] if self.v4_size
                                                              else [])
        return (f'{self.__class__.__name__}(sizes={sizes}, v2_scale={self.v2_scale}, '
                f'v3_mode={self.v3_mode!r}, v4_scale={self.v4_scale}, '
                f'view_pipelines={self.view_pipelines})')
