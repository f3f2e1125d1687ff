"""SoCoViews options a config can set: ``min_visible``, the crop that cannot be drawn in the
asked shape (torchvision's central-crop fallback), and views described by role."""
import numpy as np
import pytest
from mmcv.transforms import BaseTransform
from mmengine.registry import DefaultScope

import mmsoco  # noqa: F401
from mmsoco.datasets.transforms import SoCoViews
from mmsoco.registry import TRANSFORMS
from test_pipeline_views import PATCHES, patch_image, run_views


@TRANSFORMS.register_module(force=True)
class _RecordViewMatrix(BaseTransform):
    """A view sub-pipeline step that records each view's matrix (original -> view pixels)."""
    seen = []

    def transform(self, results):
        _RecordViewMatrix.seen.append(np.array(results['view_matrix'], np.float64))
        return results


def _views(v2_scale=(0.5, 1.0), v3_crop_scale=None, **kwargs):
    """The paper's three views; ``v3_crop_scale``: V3 an independent crop of that scale."""
    views = [dict(kind='whole', size=224), dict(kind='crop', size=224, scale=v2_scale),
             dict(kind='downsample', size=112) if v3_crop_scale is None else
             dict(kind='crop', size=112, scale=v3_crop_scale)]
    # mmsoco's transforms live in mmselfsup's registry; another test may have left mmdet's scope
    with DefaultScope.overwrite_default_scope('mmselfsup'):
        return SoCoViews(views, view_transforms=[[dict(type='_RecordViewMatrix')]] * 3,
                         **kwargs)


def _run(views, seed):
    _RecordViewMatrix.seen = []
    results = run_views(views, patch_image(), PATCHES, k=6, seed=seed)
    return results, list(_RecordViewMatrix.seen)


def _area(box):
    return max(box[2] - box[0], 0) * max(box[3] - box[1], 0)


def _visible_fractions(results, matrices):
    """(view, proposal id, clipped area / whole box area in that view) of every valid box."""
    out = []
    for v, matrix in enumerate(matrices):
        for k in np.flatnonzero(results['proposal_valid'][v]):
            pid = int(results['view_proposal_ids'][v, k])
            x1, y1, x2, y2 = PATCHES[pid]
            corners = matrix @ np.array([[x1, x2], [y1, y2], [1, 1]])    # 3 x 2
            whole = _area([corners[0, 0], corners[1, 0], corners[0, 1], corners[1, 1]])
            out.append((v, pid, _area(results['view_bboxes'][v, k]) / whole))
    return out


def test_min_visible_drops_proposals_mostly_outside_a_crop():
    small = dict(v2_scale=(0.2, 0.3), v3_crop_scale=(0.2, 0.3))
    partly = []
    for seed in range(12):
        results, matrices = _run(_views(**small), seed)
        partly += [f for v, _, f in _visible_fractions(results, matrices) if v and f < 0.6]
    assert partly, 'with min_visible=0 small crops keep boxes that are mostly outside'

    strict = _views(min_visible=0.6, **small)
    checked = 0
    for seed in range(12):
        results, matrices = _run(strict, seed)
        if (results['view_proposal_ids'] < 0).any():          # no common proposal: whole image
            continue
        for v, pid, fraction in _visible_fractions(results, matrices):
            assert fraction > 0.6 - 1e-3, (seed, v, pid, fraction)
            checked += 1
    assert checked > 12


def test_crop_of_an_impossible_shape_is_torchvisions_central_crop():
    # the whole V1 area at aspect 3:1 never fits a square V1: after 10 draws the crop is the
    # central band with the aspect clamped into crop_ratio, a full-width third of the height
    views = _views(v2_scale=(1., 1.), crop_ratio=(3., 3.))
    results, matrices = _run(views, seed=0)
    width, height = 500, 375
    band = np.array([[0, width], [height / 3, 2 * height / 3], [1, 1]])
    corners = matrices[1] @ band                                       # V2 of 224 x 224
    np.testing.assert_allclose(corners[:2], [[0, 224], [0, 224]], atol=224 / height)


def test_views_are_described_by_role():
    with pytest.raises(ValueError, match=r"views\[0\]: the first view, and only it, is "
                                         r"kind='whole'"):
        SoCoViews([dict(kind='crop', size=224), dict(kind='crop', size=192)])
    four = SoCoViews([dict(kind='whole', size=224), dict(kind='crop', size=224),
                      dict(kind='downsample', size=112), dict(kind='crop', size=96)],
                     view_transforms=None)
    assert four.num_views == 4
    results = run_views(four, patch_image(), PATCHES, k=4)
    shapes = [tuple(s) for s in results['view_shapes']]
    assert shapes == [(224, 224), (224, 224), (112, 112), (96, 96)]
