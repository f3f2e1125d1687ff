"""SoCo's object-level views V1..V4, with the proposals followed through every view.

:class:`SoCoViews` builds the paper's views; :class:`~.original_views.SoCoOriginalViews` the
released code's recipe.  Both share :class:`BaseSoCoViews` (view specs, crops, sub-pipelines and
the output keys); how the recipes differ is told in ``docs/data_pipeline.md``.
"""
from typing import List, Optional, Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform, Compose

from mmsoco.registry import TRANSFORMS

from ..fallbacks import FallbackCounter
from .box_ops import box_sizes, clip_boxes, crop_resize_matrix, map_boxes, visible_mask
from .proposals import WHOLE_IMAGE_ID
from .view_geometry import (INTERPOLATIONS, downsample_matrix, parse_view_specs,
                            random_crop_in_frame, random_resized_crop, resize, whole_matrix)

#: The paper's views: V1 the whole image, V2 a crop of V1, V3 = V2 at 112 px.
PAPER_VIEWS = (
    dict(kind='whole', size=224),
    dict(kind='crop', size=224, scale=(0.5, 1.0)),
    dict(kind='downsample', size=112, source=1),
)
#: options of the positional view arguments, replaced by the view specs (``views``)
POSITIONAL_OPTIONS = ('v1_size', 'v2_size', 'v2_scale', 'v3_size', 'v3_mode', 'v3_scale',
                      'v4_size', 'v4_scale', 'v4_mode', 'select', 'select_tries')


def refuse_unknown_options(owner: str, options: dict) -> None:
    """One line for options a view transform does not take, naming what replaced them."""
    old = sorted(set(options) & set(POSITIONAL_OPTIONS))
    if old:
        raise TypeError(f'{owner}: {old} are no options any more: describe the views by role, '
                        "views=[dict(kind='whole', size=224), dict(kind='crop', size=224, "
                        "scale=(0.5, 1.0)), dict(kind='downsample', size=112)], and use "
                        'SoCoOriginalViews for the released recipes (docs/data_pipeline.md)')
    if options:
        raise TypeError(f'{owner}: unknown options {sorted(options)}')


class BaseSoCoViews(BaseTransform):
    """What both view transforms share: view specs, crops, resizing and the view sub-pipelines.

    Output keys (both recipes, one layout; ``S`` box sets of ``K`` boxes):
    ``img`` (list of the views, V1 first, each uint8 (h, w, 3) BGR), ``view_bboxes`` (float32
    (S, K, 4), each set in its view's pixels), ``view_proposal_ids`` (int64 (S, K), -1 for the
    whole-image box), ``proposal_valid`` (bool (S, K), False for the repeats that pad to K),
    ``box_sets`` (list of S ``(view, pair)``: the view a set is in and the pair ``(a, b)`` it
    serves, ``pair=None`` for every pair of the view), ``view_shapes`` (list of (h, w)),
    ``view_flips`` (list of bool), ``view_matrices`` (float64 (V, 3, 3), original -> view).

    Args:
        views (Sequence[dict]): One spec per view, V1 first (see
            :func:`~.view_geometry.parse_view_specs`).
        view_transforms (list[list[dict]], optional): One sub-pipeline per view (flip, box
            jitter, colour), each seeing ``img``, ``img_shape``, ``proposals`` (view pixels),
            ``proposal_ids`` and ``view_matrix``. ``None`` applies none.
        crop_ratio (tuple): Aspect-ratio range of the crops.
        crop_frame (str): ``'v1'`` (area and aspect ratio measured in V1's frame) or
            ``'image'`` (in the decoded image's pixels, torchvision's ``RandomResizedCrop``).
        interpolation (str): ``'auto'`` (see :func:`~.view_geometry.halve_until_close`),
            ``'bilinear'``, ``'area'``, ``'bicubic'`` or ``'nearest'``.
        fallbacks (dict[str, str]): Fallback kinds this transform counts, with their reason.
        log_interval (int): Samples between fallback summaries.
    """
    #: whether a view of several pairs (V1) gets one box set per pair (the model's
    #: ``roi_pooling='original'`` is then needed, see :func:`mmsoco.engine.pooling_error`)
    boxes_per_pair = False

    def __init__(self, views: Sequence[dict], view_transforms: Optional[Sequence[Sequence[dict]]],
                 crop_ratio: Tuple[float, float], crop_frame: str, interpolation: str,
                 fallbacks: dict, log_interval: int) -> None:
        name = type(self).__name__
        self.specs = parse_view_specs(views, f'{name}.views')
        if crop_frame not in ('v1', 'image'):
            raise ValueError(f"{name}: crop_frame must be 'v1' or 'image', got {crop_frame!r}")
        if interpolation != 'auto' and interpolation not in INTERPOLATIONS:
            raise ValueError(f'{name}: interpolation must be auto or one of '
                             f'{sorted(INTERPOLATIONS)}, got {interpolation!r}')
        assert 0 < crop_ratio[0] <= crop_ratio[1]
        self.crop_ratio = tuple(crop_ratio)
        self.crop_frame = crop_frame
        self.interpolation = interpolation
        self.num_views = len(self.specs)
        if view_transforms is None:
            view_transforms = [[] for _ in range(self.num_views)]
        if len(view_transforms) != self.num_views:
            raise ValueError(f'{name}: view_transforms has {len(view_transforms)} sub-pipelines '
                             f'for {self.num_views} views (one per entry of views)')
        # built here with mmselfsup's registry, so that no default scope is needed
        self.view_pipelines = [
            Compose([TRANSFORMS.build(t) if isinstance(t, dict) else t for t in transforms])
            for transforms in view_transforms
        ]
        self.fallbacks = FallbackCounter(name, fallbacks, log_interval)

    def _resize(self, img: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
        return resize(img, size, self.interpolation)

    def _random_crop(self, width: int, height: int,
                     scale: Tuple[float, float]) -> Tuple[int, int, int, int]:
        """A crop ``(x0, y0, w, h)`` of the decoded image, drawn in ``crop_frame``."""
        if self.crop_frame == 'image':
            return random_resized_crop(width, height, scale, self.crop_ratio)
        return random_crop_in_frame(width, height, self.specs[0].size, scale, self.crop_ratio)

    def _crop_view(self, img: np.ndarray, crop, size) -> Tuple[np.ndarray, np.ndarray]:
        """Pixels resampled once from the decoded image, and the matrix (original -> view)."""
        x0, y0, cw, ch = crop
        return self._resize(img[y0:y0 + ch, x0:x0 + cw], size), crop_resize_matrix(crop, size)

    @staticmethod
    def _view(img, matrix, boxes, ids) -> dict:
        """A view's results for its sub-pipeline: boxes mapped into it and clipped."""
        height, width = img.shape[:2]
        return dict(img=img, img_shape=(height, width),
                    proposals=clip_boxes(map_boxes(boxes, matrix), width, height),
                    proposal_ids=ids, view_matrix=matrix)

    def _run_view_pipelines(self, views: List[dict]) -> List[dict]:
        out = []
        for view, pipeline in zip(views, self.view_pipelines):
            view = pipeline(view)
            if view is None:
                raise RuntimeError(f'a view sub-pipeline of {type(self).__name__} returned '
                                   f'None: {pipeline}')
            out.append(view)
        return out

    def _pack(self, results: dict, views: List[dict], bboxes, ids, valid, box_sets) -> dict:
        """Write the output keys (see the class docstring) and hand on the fallbacks."""
        self.fallbacks.step()
        self.fallbacks.attach(results)
        results['img'] = [view['img'] for view in views]
        results['view_shapes'] = [view['img'].shape[:2] for view in views]
        results['view_flips'] = [bool(view.get('flip', False)) for view in views]
        results['view_matrices'] = np.stack([view['view_matrix'] for view in views])
        results['view_bboxes'] = np.asarray(bboxes, np.float32)
        results['view_proposal_ids'] = np.asarray(ids, np.int64)
        results['proposal_valid'] = np.asarray(valid, bool)
        results['box_sets'] = box_sets
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(views={[tuple(s) for s in self.specs]}, '
                f'crop_frame={self.crop_frame!r}, view_pipelines={self.view_pipelines})')


@TRANSFORMS.register_module()
class SoCoViews(BaseSoCoViews):
    """The paper's views of one image, with the K proposals of :class:`SelectProposals` in each.

    Crops are drawn in V1's frame; their pixels are resampled once from the decoded image and the
    recorded geometry is that of the crop rounded to whole pixels, so boxes stay exact.  A crop
    must keep at least ``min_box_size`` pixels of a proposal kept by the views before it, or it
    is redrawn (``max_crop_attempts`` draws, then the whole image).  A proposal stays in a view
    when its clipped part has a positive area and more than ``min_visible`` of its area.  After
    the sub-pipelines, boxes under ``min_box_size`` are removed and the proposals present in
    every view are kept, in the same order in all views, padded to K by repetition; none: the
    whole image, id -1.  Every view is one box set, shared by all its pairs.

    Fallbacks (counted in ``self.fallbacks``, logged): ``crop_redraws``, ``crop_whole_view``,
    ``tiny_boxes``, ``no_common_proposal``.

    Required keys: ``img``, ``proposals`` (float32 (k, 4), original pixels), ``proposal_ids``.
    Optional keys: ``num_proposals`` (K; default the number of proposals).
    Modified keys: ``img``.  Added keys: see :class:`BaseSoCoViews`, with S = V sets,
    ``box_sets = [(v, None) for each view v]``.

    Args:
        views (Sequence[dict]): View specs, V1 first. Defaults to the paper's three
            (:data:`PAPER_VIEWS`); SoCo* adds ``dict(kind='crop', size=192)``.
        view_transforms (list[list[dict]], optional): One sub-pipeline per view.
        crop_ratio (tuple): Aspect-ratio range of the crops. Defaults to (3/4, 4/3).
        crop_frame (str): ``'v1'`` or ``'image'``. Defaults to ``'v1'``.
        min_visible (float): Fraction of a proposal's area that must stay inside a crop.
            Defaults to 0.
        min_box_size (float): Boxes narrower or lower than this, in view pixels, are removed.
            Defaults to 1.
        max_crop_attempts (int): Draws of a crop before falling back to the whole image.
            Defaults to 10.
        interpolation (str): See :class:`BaseSoCoViews`. Defaults to ``'auto'``.
        log_interval (int): Samples between fallback summaries. Defaults to 1000.
    """

    def __init__(self,
                 views: Sequence[dict] = PAPER_VIEWS,
                 view_transforms: Optional[Sequence[Sequence[dict]]] = None,
                 crop_ratio: Tuple[float, float] = (3. / 4., 4. / 3.),
                 crop_frame: str = 'v1',
                 min_visible: float = 0.,
                 min_box_size: float = 1.,
                 max_crop_attempts: int = 10,
                 interpolation: str = 'auto',
                 log_interval: int = 1000,
                 **unknown) -> None:
        refuse_unknown_options(type(self).__name__, unknown)
        assert max_crop_attempts >= 1
        super().__init__(
            views, view_transforms, crop_ratio, crop_frame, interpolation,
            dict(crop_redraws='a crop kept no proposal and was drawn again',
                 crop_whole_view=f'{max_crop_attempts} crops kept no proposal: the view uses '
                 'the whole image',
                 tiny_boxes=f'boxes under {min_box_size} px in a view were removed',
                 no_common_proposal='no proposal survived in every view: the whole image is '
                 'the only box'),
            log_interval)
        self.min_visible = min_visible
        self.min_box_size = min_box_size
        self.max_crop_attempts = max_crop_attempts

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
        view_img, matrix = self._crop_view(img, crop, size)
        keep = visible_mask(map_boxes(boxes, matrix), *size, 0., self.min_visible)
        return view_img, matrix, keep

    def _build_views(self, img: np.ndarray, boxes: np.ndarray, ids: np.ndarray) -> List[dict]:
        """Every view with the proposals it keeps, before the sub-pipelines."""
        height, width = img.shape[:2]
        v1 = self.specs[0]
        matrices = [whole_matrix(width, height, v1.size)]
        images = [self._resize(img, v1.size)]
        keeps = [np.ones(len(boxes), bool)]
        kept_so_far = keeps[0]          # kept by every view after V1 drawn so far
        for spec in self.specs[1:]:
            if spec.kind == 'crop':
                view_img, matrix, keep = self._draw_crop(img, boxes, kept_so_far, spec.scale,
                                                         spec.size)
            else:  # a downsample of an earlier view: its pixels, resized
                source = self.specs[spec.source]
                matrix = downsample_matrix(matrices[spec.source], source.size, spec.size)
                view_img = self._resize(images[spec.source], spec.size)
                keep = kept_so_far & visible_mask(map_boxes(boxes, matrix), *spec.size, 0.,
                                                  self.min_visible)
            matrices.append(matrix)
            images.append(view_img)
            keeps.append(keep)
            kept_so_far = kept_so_far & keep
        return [self._view(im, m, boxes[keep], ids[keep])
                for im, m, keep in zip(images, matrices, keeps)]

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
        valid = np.tile(np.arange(num_proposals) < len(common), (len(views), 1))
        return view_bboxes, view_ids, valid

    def transform(self, results: dict) -> dict:
        img = results['img']
        height, width = img.shape[:2]
        boxes = np.asarray(results['proposals'], np.float32).reshape(-1, 4)
        ids = np.asarray(results['proposal_ids'], np.int64)
        num_proposals = int(results.get('num_proposals', max(len(boxes), 1)))

        views = self._run_view_pipelines(self._build_views(img, boxes, ids))
        whole_image = np.array([[0, 0, width, height]], np.float32)
        bboxes, view_ids, valid = self._align(views, whole_image, num_proposals)
        return self._pack(results, views, bboxes, view_ids, valid,
                          [(v, None) for v in range(len(views))])
