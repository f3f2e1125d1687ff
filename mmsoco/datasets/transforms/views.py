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
from .selection import overlapping, pad_index, pick, random_resized_crop

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

    ``select='after_crop'`` is the original code's order instead (its released training recipes,
    see ``docs/data_pipeline.md``); :class:`SelectProposals` must then pass every proposal on
    (``select='after_crop'``).  All crops are drawn first; then each crop view Vb draws its own K
    proposals among those sharing more than a pixel each way with its crop (V1 is the whole image),
    so V1 carries one box set per pair (V1, Vb).  If a pair finds fewer than ``K // 2``, all crops
    are drawn again, each retry halving that demand, ``select_tries`` draws in all (then the
    last draw is kept).  A view made by downsampling V2 (``v3_mode`` / ``v4_mode``
    ``'downsample'``) shares V2's proposals and V1 boxes.  A pair with fewer than K is padded by
    random draws among its own; none at all: the whole image, id -1.  The views' sub-pipelines
    see V1 with every pair's boxes (``proposal_groups`` says whose) and Vb with its K padded
    boxes; the minimum box size is not applied.  Added keys then: ``pair_bboxes`` (float32
    (P, 2, K, 4): the boxes of pair p in V1 and in Vb), ``pair_proposal_ids`` (int64 (P, K)),
    ``pair_valid`` (bool (P, K)) and ``view_pairs`` (list of ``(0, b)``), in place of
    ``view_bboxes``, ``view_proposal_ids`` and ``proposal_valid``.

    Required keys: ``img``, ``proposals`` (float32 (k, 4), original pixels), ``proposal_ids``.
    Optional keys: ``num_proposals`` (K; default the number of proposals).
    Modified keys: ``img`` (list of the views, V1 first, each uint8 (h, w, 3) BGR).
    Added keys: ``view_bboxes`` (float32 (V, K, 4) in each view's pixels), ``view_proposal_ids``
    (int64 (V, K)), ``proposal_valid`` (bool (K,)), ``view_shapes`` (list of (h, w)),
    ``view_flips`` (list of bool), ``view_matrices`` (float64 (V, 3, 3), original image -> view).

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
        v4_mode (str): ``'crop'`` (V4 an independent crop, SoCo* in the paper) or
            ``'downsample'`` (V4 is V2 resized to ``v4_size``, the released SoCo* recipe).
            Defaults to ``'crop'``.
        crop_ratio (tuple): Aspect-ratio range of the crops. Defaults to (3/4, 4/3).
        crop_frame (str): Frame in which crop area and aspect ratio are drawn: ``'v1'`` (V1's
            224x224 frame, the paper's "crop of V1") or ``'image'`` (the decoded image's pixels,
            torchvision's ``RandomResizedCrop`` as the original code). Defaults to ``'v1'``.
        select (str): ``'before_crop'`` (K proposals drawn once by :class:`SelectProposals`,
            the same in every view) or ``'after_crop'`` (K per pair after the crops, the
            original code). Defaults to ``'before_crop'``.
        select_tries (int): Crop draws for ``'after_crop'`` (the original's ``max_tries``).
            Defaults to 5.
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
                 v4_mode: str = 'crop',
                 crop_ratio: Tuple[float, float] = (3. / 4., 4. / 3.),
                 crop_frame: str = 'v1',
                 select: str = 'before_crop',
                 select_tries: int = 5,
                 min_visible: float = 0.,
                 min_box_size: float = 1.,
                 max_crop_attempts: int = 10,
                 interpolation: str = 'auto',
                 log_interval: int = 1000) -> None:
        for name, value, allowed in (('v3_mode', v3_mode, ('downsample', 'crop')),
                                     ('v4_mode', v4_mode, ('crop', 'downsample')),
                                     ('crop_frame', crop_frame, ('v1', 'image')),
                                     ('select', select, ('before_crop', 'after_crop'))):
            if value not in allowed:
                raise ValueError(f'SoCoViews: {name} must be one of {allowed}, got {value!r}')
        assert select_tries >= 1
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
        self.v4_mode = v4_mode
        self.crop_ratio = tuple(crop_ratio)
        self.crop_frame = crop_frame
        self.select = select
        self.select_tries = select_tries
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
                 'the only box',
                 select_redraws=f'select=after_crop: a pair found under K//2 proposals and '
                 f'all crops were drawn again (at most {select_tries} draws)'),
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
        """RandomResizedCrop-style region drawn in V1's frame (or the image's, ``crop_frame``).

        Returns:
            tuple[int]: ``(x0, y0, w, h)`` in the decoded image, at least one pixel each way.
        """
        if self.crop_frame == 'image':
            return random_resized_crop(width, height, scale, self.crop_ratio)
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

        if self.v4_size is not None and self.v4_mode == 'downsample':
            m4 = scale_translate(self.v4_size[0] / self.v2_size[0],
                                 self.v4_size[1] / self.v2_size[1]) @ m2
            keep4 = keep2 & keep3 & visible_mask(map_boxes(boxes, m4), *self.v4_size, 0.,
                                                 self.min_visible)
            views.append(self._view(self._resize(v2_img, self.v4_size), m4, boxes, ids, keep4))
        elif self.v4_size is not None:
            v4_img, m4, keep4 = self._draw_crop(img, boxes, keep2 & keep3, self.v4_scale,
                                                self.v4_size)
            views.append(self._view(v4_img, m4, boxes, ids, keep4))
        return views

    # ------------------------------------------------------------------------------------------
    # select='after_crop': the original code's crops, then K proposals per pair
    def _view_specs(self) -> List[Tuple[str, tuple, Tuple[int, int]]]:
        """V2.. as ``(kind, scale, size)``: kind ``'crop'`` or ``'downsample'`` (of V2)."""
        specs = [('crop', self.v2_scale, self.v2_size)]
        if self.v3_size is not None:
            specs.append(('crop' if self.v3_mode == 'crop' else 'downsample', self.v3_scale,
                          self.v3_size))
        if self.v4_size is not None:
            specs.append((self.v4_mode, self.v4_scale, self.v4_size))
        return specs

    def _draw_pairs(self, width: int, height: int, boxes: np.ndarray, k: int):
        """Crops of the crop views and each one's K proposals, with the original's retries.

        Returns:
            tuple: ``crops`` (dict view -> (x0, y0, w, h)) and ``picks`` (dict view -> indices
            into ``boxes``, at most K).
        """
        specs = self._view_specs()
        need = max(k // 2, 1)
        for attempt in range(self.select_tries):
            crops = {b: self._random_crop(width, height, scale)
                     for b, (kind, scale, _) in enumerate(specs, 1) if kind == 'crop'}
            picks = {b: pick(overlapping(boxes, crop), k) for b, crop in crops.items()}
            if all(len(p) >= need for p in picks.values()):
                break
            need = max(need // 2, 1)
            if attempt + 1 < self.select_tries:
                self.fallbacks.add('select_redraws')
        return crops, picks

    def _transform_after_crop(self, results: dict) -> dict:
        img = results['img']
        height, width = img.shape[:2]
        boxes = np.asarray(results['proposals'], np.float32).reshape(-1, 4)
        ids = np.asarray(results['proposal_ids'], np.int64)
        k = int(results.get('num_proposals', 4))
        if results.get('proposals_drawn', False):
            raise ValueError("SoCoViews(select='after_crop') draws K proposals per pair among "
                             'all of an image\'s proposals, but SelectProposals already drew K: '
                             "set SelectProposals(select='after_crop')")
        crops, picks = self._draw_pairs(width, height, boxes, k)

        # each crop view's proposals, padded to K; a downsampled view shares V2's
        whole = np.array([[0, 0, width, height]], np.float32)
        sets = {}
        for b, idx in picks.items():
            if len(idx):
                sets[b] = (boxes[idx], ids[idx], pad_index(len(idx), k), len(idx))
            else:
                self.fallbacks.add('no_common_proposal')
                sets[b] = (whole, np.array([WHOLE_IMAGE_ID]), np.zeros(k, np.int64), 1)
        specs = self._view_specs()
        owner = [None] + [b if kind == 'crop' else 1 for b, (kind, _, _) in
                          enumerate(specs, 1)]             # whose proposals each view shows

        m1 = scale_translate(self.v1_size[0] / width, self.v1_size[1] / height)
        order = sorted(sets)
        v1_boxes = np.concatenate([sets[b][0] for b in order])
        v1_ids = np.concatenate([sets[b][1] for b in order])
        v1 = self._view(self._resize(img, self.v1_size), m1, v1_boxes, v1_ids,
                        np.ones(len(v1_boxes), bool))
        v1['proposal_groups'] = np.concatenate([np.full(len(sets[b][1]), b) for b in order])
        views = [v1]
        for b, (kind, _, size) in enumerate(specs, 1):
            sel_boxes, sel_ids, pad, _ = sets[owner[b]]
            if kind == 'crop':
                x0, y0, cw, ch = crops[b]
                matrix = crop_resize_matrix(crops[b], size)
                view_img = self._resize(img[y0:y0 + ch, x0:x0 + cw], size)
            else:
                matrix = scale_translate(size[0] / self.v2_size[0],
                                         size[1] / self.v2_size[1]) @ views[1]['view_matrix']
                view_img = self._resize(views[1]['img'], size)
            views.append(self._view(view_img, matrix, sel_boxes[pad], sel_ids[pad],
                                    np.ones(k, bool)))

        out = []
        for view, pipeline in zip(views, self.view_pipelines):
            count = len(view['proposals'])
            view = pipeline(view)
            if view is None:
                raise RuntimeError(f'a view sub-pipeline of SoCoViews returned None: {pipeline}')
            assert len(view['proposals']) == count, 'a view sub-pipeline dropped boxes'
            out.append(view)

        groups = out[0]['proposal_groups']
        v1_out = np.asarray(out[0]['proposals'], np.float32)
        pair_bboxes, pair_ids, pair_valid = [], [], []
        for b in range(1, len(out)):
            _, sel_ids, pad, n = sets[owner[b]]
            pair_bboxes.append(np.stack([v1_out[groups == owner[b]][pad],
                                         np.asarray(out[b]['proposals'], np.float32)]))
            pair_ids.append(sel_ids[pad])
            pair_valid.append(np.arange(k) < n)
        self.fallbacks.step()
        self.fallbacks.attach(results)
        self._set_views(results, out)
        results['pair_bboxes'] = np.stack(pair_bboxes).astype(np.float32)
        results['pair_proposal_ids'] = np.stack(pair_ids).astype(np.int64)
        results['pair_valid'] = np.stack(pair_valid)
        results['view_pairs'] = [(0, b) for b in range(1, len(out))]
        return results

    @staticmethod
    def _set_views(results: dict, views: List[dict]) -> None:
        results['img'] = [view['img'] for view in views]
        results['view_shapes'] = [view['img'].shape[:2] for view in views]
        results['view_flips'] = [bool(view.get('flip', False)) for view in views]
        results['view_matrices'] = np.stack([view['view_matrix'] for view in views])

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
        if self.select == 'after_crop':
            return self._transform_after_crop(results)
        if results.get('proposals_drawn') is False:
            raise ValueError("SoCoViews(select='before_crop') expects the K proposals drawn by "
                             "SelectProposals, which passed all of them on (select='after_crop')"
                             ": set the same select in both")
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

        self._set_views(results, views)
        results['view_bboxes'] = view_bboxes
        results['view_proposal_ids'] = view_ids
        results['proposal_valid'] = valid
        return results

    def __repr__(self) -> str:
        sizes = [self.v1_size, self.v2_size, self.v3_size] + ([self.v4_size] if self.v4_size
                                                              else [])
        return (f'{self.__class__.__name__}(sizes={sizes}, v2_scale={self.v2_scale}, '
                f'v3_mode={self.v3_mode!r}, v4_scale={self.v4_scale}, v4_mode={self.v4_mode!r}, '
                f'crop_frame={self.crop_frame!r}, select={self.select!r}, '
                f'view_pipelines={self.view_pipelines})')
