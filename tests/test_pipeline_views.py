"""SoCoViews geometry checked by content: boxes drawn around coloured patches keep covering them."""
import numpy as np
import pytest

import mmsoco  # noqa: F401
from mmsoco.datasets.recipes import paper_views
from mmsoco.datasets.transforms import (WHOLE_IMAGE_ID, FitProposals, SelectProposals,
                                        SoCoOriginalViews, SoCoViews)

# BGR colours that a grey background cannot produce
PATCH_COLOURS = [(0, 0, 255), (0, 255, 0), (255, 0, 0), (0, 255, 255), (255, 0, 255),
                 (255, 255, 0)]
# x1, y1, x2, y2 in a 500x375 image, disjoint, with gaps between them
PATCHES = np.array([[20, 30, 140, 130], [200, 40, 330, 150], [380, 20, 480, 170],
                    [40, 200, 150, 350], [190, 210, 340, 300], [370, 220, 470, 360]], np.float32)


def patch_image(seed=0):
    """A 500x375 grey, textured image with six uniquely coloured rectangles (``PATCHES``)."""
    rng = np.random.default_rng(seed)
    grey = rng.integers(90, 170, (375, 500, 1), dtype=np.uint8)
    img = np.repeat(grey, 3, axis=2)
    for (x1, y1, x2, y2), colour in zip(PATCHES.astype(int), PATCH_COLOURS):
        img[y1:y2, x1:x2] = colour
    return img


def colour_mask(img, colour, tol=40):
    return (np.abs(img.astype(int) - np.array(colour)) <= tol).all(axis=2)


def run_views(views, img, boxes, ids=None, k=4, seed=0):
    np.random.seed(seed)
    results = dict(img=img, proposals=boxes, proposal_ids=np.arange(len(boxes)) if ids is None
                   else ids)
    results = SelectProposals(num_proposals=k)(results)
    return views(results)


def flip_views(num_views, prob):
    return [[dict(type='BoxAwareRandomFlip', prob=prob)] for _ in range(num_views)]


def assert_boxes_cover_patches(results):
    """Each valid box of each box set is the bounding box of its patch's pixels in its view.

    Returns:
        tuple[int, int]: The number of boxes checked, and of those at least 3 px wide and high,
        whose inside (1 px border excluded) was checked to be the patch colour too.
    """
    checked = checked_inside = 0
    for s, (v, _) in enumerate(results['box_sets']):
        view = results['img'][v]
        for k in np.flatnonzero(results['proposal_valid'][s]):
            pid = int(results['view_proposal_ids'][s, k])
            x1, y1, x2, y2 = results['view_bboxes'][s, k]
            mask = colour_mask(view, PATCH_COLOURS[pid])
            ys, xs = np.nonzero(mask)
            assert len(xs) > 0, f'view {v}: patch {pid} not visible but kept'
            # every pixel of the patch lies in the box (pixel i spans [i, i + 1])
            tol = 1.0
            assert xs.min() >= x1 - tol and xs.max() + 1 <= x2 + tol, (v, pid, (x1, x2), xs)
            assert ys.min() >= y1 - tol and ys.max() + 1 <= y2 + tol, (v, pid, (y1, y2), ys)
            # and the box is no larger than the patch (interpolated borders aside)
            assert x1 >= xs.min() - 2 and x2 <= xs.max() + 1 + 2, (v, pid)
            assert y1 >= ys.min() - 2 and y2 <= ys.max() + 1 + 2, (v, pid)
            # the inside of the box is the patch colour
            checked += 1
            # the inside of the box is the patch colour (boxes of a sliver of a patch, 1-2 px
            # wide at a crop border, have no inside: the caller counts how many were checked)
            inner = mask[int(np.ceil(y1)) + 1:int(y2) - 1, int(np.ceil(x1)) + 1:int(x2) - 1]
            if inner.size:
                assert inner.mean() > 0.97, (v, pid, inner.mean())
                checked_inside += 1
    return checked, checked_inside


@pytest.mark.parametrize('num_views,v3_mode,flip', [
    (3, 'downsample', 0.5), (4, 'downsample', 1.0), (4, 'crop', 0.5), (3, 'crop', 0.0)])
def test_boxes_follow_patches_through_crop_resize_flip(num_views, v3_mode, flip):
    img = patch_image()
    specs = paper_views(num_views)
    if v3_mode == 'crop':   # V3 an independent crop of V1 instead of V2 downsampled
        specs[2] = dict(kind='crop', size=112)
    views = SoCoViews(specs, view_transforms=flip_views(num_views, flip))
    flips = checked = checked_inside = 0
    for seed in range(12):
        results = run_views(views, img, PATCHES, k=4, seed=seed)
        assert [im.shape[:2] for im in results['img']] == \
            [(224, 224), (224, 224), (112, 112), (192, 192)][:num_views]
        boxes, insides = assert_boxes_cover_patches(results)
        checked, checked_inside = checked + boxes, checked_inside + insides
        flips += sum(results['view_flips'])
    # at least one valid box per view and sample; nearly all have an inside that was checked
    assert checked >= 12 * num_views, checked
    assert checked_inside >= 0.9 * checked, (checked, checked_inside)
    if flip == 1.0:
        assert flips == 12 * num_views
    elif flip == 0.0:
        assert flips == 0
    else:
        assert 0 < flips < 12 * num_views


def test_view_matrix_maps_original_boxes_to_view_boxes():
    """Without jitter, every view box is the original proposal mapped by the view's geometry."""
    img = patch_image()
    captured = []

    def capture(results):
        captured.append(results['view_matrix'].copy())
        return results

    views = SoCoViews(paper_views(4), view_transforms=flip_views(4, 0.5))
    for pipeline in views.view_pipelines:  # look at the geometry after the flip
        pipeline.transforms.append(capture)
    from mmsoco.datasets.transforms.box_ops import clip_boxes, map_boxes
    for seed in range(5):
        captured.clear()
        results = run_views(views, img, PATCHES, k=6, seed=seed)
        for v, matrix in enumerate(captured):
            h, w = results['view_shapes'][v]
            ids = results['view_proposal_ids'][v]
            expected = clip_boxes(map_boxes(PATCHES[ids], matrix), w, h)
            np.testing.assert_allclose(results['view_bboxes'][v], expected, atol=1e-4)


def test_v3_is_v2_downsampled_by_default():
    img = patch_image()
    views = SoCoViews(view_transforms=None)
    results = run_views(views, img, PATCHES, seed=3)
    np.testing.assert_allclose(results['view_bboxes'][2], results['view_bboxes'][1] / 2,
                               atol=1e-4)
    v2 = results['img'][1].astype(np.float32)
    v2_down = v2.reshape(112, 2, 112, 2, 3).mean(axis=(1, 3))
    assert np.abs(v2_down - results['img'][2]).mean() < 1.0


def test_crops_respect_scale_and_size():
    img = patch_image()
    views = SoCoViews([dict(kind='whole', size=224),
                       dict(kind='crop', size=(160, 128), scale=(0.5, 0.5)),
                       dict(kind='downsample', size=(80, 64)),
                       dict(kind='crop', size=96, scale=(0.25, 0.25))],
                      view_transforms=None, crop_ratio=(1., 1.))
    # a central proposal: V2's crop (a square of side 224 / sqrt(2) = 158.4 px in V1's frame,
    # anywhere in V1) always covers V1's x and y in [65.6, 158.4], i.e. this box in full
    centre = np.array([[160, 120, 340, 255]], np.float32)  # in V1: [71.7, 71.7, 152.3, 152.3]
    for seed in range(3):
        results = run_views(views, img, np.concatenate([centre, PATCHES]), k=7, seed=seed)
        assert [im.shape[:2] for im in results['img']] == [(224, 224), (128, 160), (64, 80),
                                                           (96, 96)]
        # a V1 box of width w appears in V2 at width w * 160 / (224 / sqrt(2)); compare the
        # widths of the proposals inside both views, the central one among them
        w1 = results['view_bboxes'][0, :, 2] - results['view_bboxes'][0, :, 0]
        w2 = results['view_bboxes'][1, :, 2] - results['view_bboxes'][1, :, 0]
        inside = (results['view_bboxes'][1, :, 0] > 0) & (results['view_bboxes'][1, :, 2] < 160)
        inside &= (results['view_bboxes'][0, :, 0] > 0) & (results['view_bboxes'][0, :, 2] < 224)
        inside &= results['proposal_valid'][0]
        central = results['proposal_valid'][0] & (results['view_proposal_ids'][0] == 0)
        assert central.sum() == 1 and inside[central].all()
        np.testing.assert_allclose(w2[inside] / w1[inside], 160 / (224 / np.sqrt(2)),
                                   rtol=0.03)


def test_ids_match_across_views_and_k_boxes_always():
    img = patch_image()
    specs = paper_views(4)
    specs[1] = dict(kind='crop', size=224, scale=(0.2, 0.5))
    views = SoCoViews(specs, view_transforms=[[dict(type='BoxAwareRandomFlip'),
                                               dict(type='BoxJitter', prob=1.0)]] * 4)
    for n in (0, 1, 2, 3, 6):
        for seed in range(6):
            results = run_views(views, img, PATCHES[:n], k=4, seed=seed)
            bboxes, ids, valid = (results['view_bboxes'], results['view_proposal_ids'],
                                  results['proposal_valid'])
            assert bboxes.shape == (4, 4, 4) and bboxes.dtype == np.float32
            assert ids.shape == (4, 4) and ids.dtype == np.int64
            assert valid.shape == (4, 4) and valid.dtype == bool
            assert (ids == ids[0]).all() and (valid == valid[0]).all()
            valid = valid[0]
            num_valid = int(valid.sum())
            assert 1 <= num_valid <= min(max(n, 1), 4)
            assert valid[:num_valid].all() and not valid[num_valid:].any()
            assert len(set(ids[0, :num_valid].tolist())) == num_valid  # no id twice among valid
            for k in range(num_valid, 4):  # padding repeats a valid proposal, box and all
                j = k % num_valid
                assert ids[0, k] == ids[0, j]
                np.testing.assert_array_equal(bboxes[:, k], bboxes[:, j])
            for v, (h, w) in enumerate(results['view_shapes']):
                b = bboxes[v]
                assert (b[:, 0] >= 0).all() and (b[:, 2] <= w).all()
                assert (b[:, 1] >= 0).all() and (b[:, 3] <= h).all()
                assert ((b[:, 2] - b[:, 0]) >= 1).all() and ((b[:, 3] - b[:, 1]) >= 1).all()
            if n == 0:
                assert (ids == WHOLE_IMAGE_ID).all()


def test_image_without_proposals_uses_whole_image():
    img = patch_image()
    select = SelectProposals(num_proposals=4)
    views = SoCoViews(view_transforms=flip_views(3, 0.5))
    results = views(select(dict(img=img, proposals=np.zeros((0, 4), np.float32),
                                proposal_ids=np.zeros(0, np.int64))))
    assert select.fallbacks['no_proposals'] == 1
    assert (results['view_proposal_ids'] == WHOLE_IMAGE_ID).all()
    assert results['proposal_valid'].tolist() == [[True, False, False, False]] * 3
    for v, (h, w) in enumerate(results['view_shapes']):
        np.testing.assert_allclose(results['view_bboxes'][v, 0], [0, 0, w, h], atol=1e-4)


def test_crop_without_proposal_is_redrawn_then_whole_view():
    """One proposal in a corner: small crops rarely keep it, so they are redrawn or fall back."""
    img = patch_image()
    corner = np.array([[0, 0, 40, 30]], np.float32)
    specs = paper_views(3)
    specs[1] = dict(kind='crop', size=224, scale=(0.15, 0.15))
    views = SoCoViews(specs, view_transforms=None, max_crop_attempts=2)
    whole = 0
    for seed in range(20):
        results = run_views(views, img, corner, seed=seed)
        # whatever happened, the proposal is in every view
        assert results['proposal_valid'][:, 0].all() and (results['view_proposal_ids'] == 0).all()
        if np.allclose(results['view_bboxes'][1, 0], results['view_bboxes'][0, 0]):
            whole += 1
    assert views.fallbacks['crop_redraws'] > 0
    assert views.fallbacks['crop_whole_view'] == whole > 0
    assert views.fallbacks['no_common_proposal'] == 0


def test_boxes_below_a_pixel_are_removed_before_padding():
    """A 3.5 px wide proposal is 1.6 px in V1/V2 and 0.8 px in V3: it is dropped everywhere."""
    img = patch_image()
    boxes = np.array([[300, 200, 303.5, 260], PATCHES[0]], np.float32)
    specs = paper_views(3)
    specs[1] = dict(kind='crop', size=224, scale=(1., 1.))
    views = SoCoViews(specs, view_transforms=None, crop_ratio=(1., 1.))
    results = run_views(views, img, boxes, seed=0)
    assert views.fallbacks['tiny_boxes'] == 1
    assert (results['view_proposal_ids'] == 1).all()
    assert results['proposal_valid'].tolist() == [[True, False, False, False]] * 3

    # nothing left at all: the whole image is the box, counted
    only_tiny = boxes[:1]
    results = run_views(views, img, only_tiny, seed=0)
    assert views.fallbacks['no_common_proposal'] == 1
    assert (results['view_proposal_ids'] == WHOLE_IMAGE_ID).all()
    for v, (h, w) in enumerate(results['view_shapes']):
        np.testing.assert_allclose(results['view_bboxes'][v, 0], [0, 0, w, h], atol=1e-4)


def test_fallback_counts_are_logged(monkeypatch):
    import mmsoco.datasets.fallbacks as fallbacks
    lines = []
    monkeypatch.setattr(fallbacks, 'print_log', lambda msg, **kw: lines.append(msg))
    views = SoCoViews(view_transforms=None, log_interval=2)
    img = patch_image()
    tiny = np.array([[300, 200, 301, 201]], np.float32)
    for seed in range(4):
        run_views(views, img, tiny, seed=seed)
    assert views.fallbacks['no_common_proposal'] == 4
    assert sum('fallback "no_common_proposal" taken' in line for line in lines) == 1
    summaries = [line for line in lines if 'fallbacks after' in line]
    assert len(summaries) == 2 and 'no_common_proposal=4' in summaries[-1]


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match=r'views\[2\]: kind must be one of'):
        SoCoViews([dict(kind='whole', size=224), dict(kind='crop', size=224),
                   dict(kind='independent', size=112)])
    with pytest.raises(ValueError, match=r'views\[2\]: a downsample resizes an earlier view'):
        SoCoViews([dict(kind='whole', size=224), dict(kind='crop', size=224),
                   dict(kind='downsample', size=112, source=0)])
    with pytest.raises(ValueError, match='sub-pipelines'):
        SoCoViews(paper_views(4), view_transforms=[[], [], []])
    # the positional options of before are refused with what replaced them
    with pytest.raises(TypeError, match=r"\['v3_mode'\] are no options any more: describe the "
                                        'views by role'):
        SoCoViews(v3_mode='crop')
    with pytest.raises(TypeError, match="select is no option any more.*FitProposals"):
        SelectProposals(select='after_crop')
    with pytest.raises(TypeError, match=r"unknown options \['v5_size'\]"):
        SoCoOriginalViews(v5_size=96)
    with pytest.raises(ValueError, match='its source must be a crop'):
        SoCoOriginalViews([dict(kind='whole', size=224), dict(kind='crop', size=224),
                           dict(kind='downsample', size=112), dict(kind='downsample', size=56,
                                                                   source=2)])


def test_v4_downsampled_from_v2_keeps_boxes_on_their_patches():
    """V4 a downsample of V2 (the released SoCo* recipe): V4 is V2 at 112, flipped on its own."""
    img = patch_image()
    views = SoCoViews([dict(kind='whole', size=224), dict(kind='crop', size=224),
                       dict(kind='crop', size=192), dict(kind='downsample', size=112)],
                      view_transforms=flip_views(4, 0.5))
    for seed in range(6):
        results = run_views(views, img, PATCHES, k=4, seed=seed)
        assert [im.shape[:2] for im in results['img']] == [(224, 224), (224, 224), (192, 192),
                                                           (112, 112)]
        assert assert_boxes_cover_patches(results)[0] >= 4


RELEASED = {2: [dict(kind='whole', size=224), dict(kind='crop', size=224, scale=(0.6, 1.))],
            3: [dict(kind='whole', size=224), dict(kind='crop', size=224),
                dict(kind='crop', size=112)],
            4: [dict(kind='whole', size=224), dict(kind='crop', size=224),
                dict(kind='crop', size=192), dict(kind='downsample', size=112)]}


@pytest.mark.parametrize('num_views', [2, 3, 4])
def test_original_views_each_pairs_boxes_cover_their_patches_in_both_views(num_views):
    """SoCoOriginalViews: every pair's boxes, in V1 and in its other view, on the patch."""
    img = patch_image()
    views = SoCoOriginalViews(RELEASED[num_views], view_transforms=flip_views(num_views, 0.5))
    fit = FitProposals()
    checked = 0
    for seed in range(8):
        np.random.seed(seed)
        results = views(fit(dict(img=img, proposals=PATCHES,
                                 proposal_ids=np.arange(len(PATCHES)))))
        assert results['box_sets'] == [(v, (0, b)) for b in range(1, num_views) for v in (0, b)]
        # the original keeps slivers (2 source pixels) that a 112 px view blurs away
        boxes = results['view_bboxes']
        seen = (boxes[..., 2:] - boxes[..., :2] >= 3).all(-1)
        checked += assert_boxes_cover_patches(dict(results, proposal_valid=results[
            'proposal_valid'] & seen))[0]
    assert checked >= 8 * 2 * (num_views - 1)
    # and SelectProposals must not have drawn K before it
    with pytest.raises(ValueError, match="use dict\\(type='FitProposals'\\) before it"):
        views(SelectProposals(num_proposals=4)(dict(img=img, proposals=PATCHES)))
