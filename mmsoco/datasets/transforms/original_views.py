"""The released code's views: crops first, then K proposals for each pair (V1, Vb)."""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from mmsoco.registry import TRANSFORMS

from .proposals import WHOLE_IMAGE_ID
from .selection import overlapping, pad_index, pick
from .view_geometry import downsample_matrix, whole_matrix
from .views import BaseSoCoViews, refuse_unknown_options

#: The released R50-FPN recipe's views: V1 the whole image, V2 and V3 independent crops.
RELEASED_VIEWS = (
    dict(kind='whole', size=224),
    dict(kind='crop', size=224, scale=(0.5, 1.0)),
    dict(kind='crop', size=112, scale=(0.5, 1.0)),
)


@TRANSFORMS.register_module()
class SoCoOriginalViews(BaseSoCoViews):
    """The views of the released training recipes, which select K proposals per pair themselves.

    Takes all of an image's proposals (from :class:`FitProposals`).  All crops are drawn first
    (in the image's frame by default, as torchvision's ``RandomResizedCrop``); then each crop
    view Vb draws its own K among the proposals that share more than a pixel each way with its
    crop (:func:`~.selection.overlapping`).  If a pair finds fewer than ``K // 2``, all crops are
    drawn again, each retry halving that demand, ``select_tries`` draws in all (the last is
    kept).  A downsampled view shares the proposals of the view it resizes.  A pair with fewer
    than K is padded by random draws among its own; none at all: the whole image, id -1.  V1's
    sub-pipeline sees every pair's boxes at once (``proposal_groups`` says whose), each other
    view its K padded boxes; no minimum box size is applied.

    Fallbacks (counted, logged): ``select_redraws``, ``no_common_proposal``.

    Required keys: ``img``, ``proposals`` (float32 (n, 4), original pixels), ``proposal_ids``.
    Modified keys: ``img``.  Added keys: see :class:`BaseSoCoViews`, with S = 2P sets for the P
    pairs ``(0, b)``, b = 1..V-1: ``box_sets = [(0, (0, 1)), (1, (0, 1)), (0, (0, 2)), ...]``.

    Args:
        views (Sequence[dict]): View specs, V1 first; a downsample's ``source`` must be a crop
            view. Defaults to :data:`RELEASED_VIEWS`.
        view_transforms (list[list[dict]], optional): One sub-pipeline per view.
        num_proposals (int): K, proposals per pair. Defaults to 4.
        select_tries (int): Draws of all crops (the original's ``max_tries``). Defaults to 5.
        crop_ratio (tuple): Aspect-ratio range of the crops. Defaults to (3/4, 4/3).
        crop_frame (str): ``'image'`` (the original) or ``'v1'``. Defaults to ``'image'``.
        interpolation (str): See :class:`BaseSoCoViews`. Defaults to ``'auto'``.
        log_interval (int): Samples between fallback summaries. Defaults to 1000.
    """
    boxes_per_pair = True

    def __init__(self,
                 views: Sequence[dict] = RELEASED_VIEWS,
                 view_transforms: Optional[Sequence[Sequence[dict]]] = None,
                 num_proposals: int = 4,
                 select_tries: int = 5,
                 crop_ratio: Tuple[float, float] = (3. / 4., 4. / 3.),
                 crop_frame: str = 'image',
                 interpolation: str = 'auto',
                 log_interval: int = 1000,
                 **unknown) -> None:
        refuse_unknown_options(type(self).__name__, unknown)
        assert num_proposals >= 1 and select_tries >= 1
        super().__init__(
            views, view_transforms, crop_ratio, crop_frame, interpolation,
            dict(select_redraws='a pair found under K//2 proposals and all crops were drawn '
                 f'again (at most {select_tries} draws)',
                 no_common_proposal='a pair found no proposal: the whole image is its box'),
            log_interval)
        self.num_proposals = num_proposals
        self.select_tries = select_tries
        # whose proposals each view shows: a crop its own, a downsample its source's
        self.owner: List[Optional[int]] = [None]
        for b, spec in enumerate(self.specs[1:], 1):
            if spec.kind == 'downsample' and self.specs[spec.source].kind != 'crop':
                raise ValueError(f'{type(self).__name__}.views[{b}]: a downsample shares the '
                                 'proposals of the crop it resizes; its source must be a crop')
            self.owner.append(b if spec.kind == 'crop' else self.owner[spec.source])

    def _draw_pairs(self, width: int, height: int, boxes: np.ndarray):
        """Crops of the crop views and each one's K proposals, with the original's retries.

        Returns:
            tuple: ``crops`` (dict view -> (x0, y0, w, h)) and ``picks`` (dict view -> indices
            into ``boxes``, at most K).
        """
        k = self.num_proposals
        need = max(k // 2, 1)
        for attempt in range(self.select_tries):
            crops = {b: self._random_crop(width, height, spec.scale)
                     for b, spec in enumerate(self.specs) if spec.kind == 'crop'}
            picks = {b: pick(overlapping(boxes, crop), k) for b, crop in crops.items()}
            if all(len(p) >= need for p in picks.values()):
                break
            need = max(need // 2, 1)
            if attempt + 1 < self.select_tries:
                self.fallbacks.add('select_redraws')
        return crops, picks

    def _selections(self, picks: Dict[int, np.ndarray], boxes, ids, width, height):
        """Per crop view: its boxes, ids, padding index (K,) and number of real proposals."""
        k = self.num_proposals
        sets = {}
        for b, idx in picks.items():
            if len(idx):
                sets[b] = (boxes[idx], ids[idx], pad_index(len(idx), k), len(idx))
            else:
                self.fallbacks.add('no_common_proposal')
                sets[b] = (np.array([[0, 0, width, height]], np.float32),
                           np.array([WHOLE_IMAGE_ID]), np.zeros(k, np.int64), 1)
        return sets

    def transform(self, results: dict) -> dict:
        if 'num_proposals' in results:
            raise ValueError('SoCoOriginalViews draws K proposals per pair among all of an '
                             "image's proposals, but SelectProposals already drew K: use "
                             "dict(type='FitProposals') before it")
        img = results['img']
        height, width = img.shape[:2]
        boxes = np.asarray(results['proposals'], np.float32).reshape(-1, 4)
        ids = np.asarray(results['proposal_ids'], np.int64)
        k = self.num_proposals
        crops, picks = self._draw_pairs(width, height, boxes)
        sets = self._selections(picks, boxes, ids, width, height)

        # V1 carries every crop view's selection; the other views their owner's, padded to K
        order = sorted(sets)
        v1 = self._view(self._resize(img, self.specs[0].size),
                        whole_matrix(width, height, self.specs[0].size),
                        np.concatenate([sets[b][0] for b in order]),
                        np.concatenate([sets[b][1] for b in order]))
        v1['proposal_groups'] = np.concatenate([np.full(len(sets[b][1]), b) for b in order])
        views = [v1]
        for b, spec in enumerate(self.specs[1:], 1):
            sel_boxes, sel_ids, pad, _ = sets[self.owner[b]]
            if spec.kind == 'crop':
                view_img, matrix = self._crop_view(img, crops[b], spec.size)
            else:
                source = views[spec.source]
                matrix = downsample_matrix(source['view_matrix'], self.specs[spec.source].size,
                                           spec.size)
                view_img = self._resize(source['img'], spec.size)
            views.append(self._view(view_img, matrix, sel_boxes[pad], sel_ids[pad]))

        counts = [len(view['proposals']) for view in views]
        views = self._run_view_pipelines(views)
        assert [len(view['proposals']) for view in views] == counts, \
            'a view sub-pipeline dropped boxes'

        groups = views[0]['proposal_groups']
        v1_boxes = np.asarray(views[0]['proposals'], np.float32)
        bboxes, set_ids, valid, box_sets = [], [], [], []
        for b in range(1, len(views)):
            _, sel_ids, pad, n = sets[self.owner[b]]
            bboxes += [v1_boxes[groups == self.owner[b]][pad],
                       np.asarray(views[b]['proposals'], np.float32)]
            set_ids += [sel_ids[pad]] * 2
            valid += [np.arange(k) < n] * 2
            box_sets += [(0, (0, b)), (b, (0, b))]
        return self._pack(results, views, np.stack(bboxes), np.stack(set_ids), np.stack(valid),
                          box_sets)
