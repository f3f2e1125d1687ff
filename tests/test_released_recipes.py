"""The released models' data recipes (``*_original-recipe.py``), checked by their statistics.

Real photos (coco128) with their real selective-search proposals go through the shipped
configs' proposal step + view transform (``SoCoOriginalViews``, or ``SoCoViews`` for the paper's
text); each test measures what only the original code's
recipe gives (see docs/data_pipeline.md, "The released recipes") from the outputs alone: boxes
mapped back through each view's geometry, crops in the image's pixels, cut-out pixels found by
difference.  Every statistic is measured on the paper-text config too, and must fail there.
"""
import copy
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config

import mmsoco  # noqa: F401
from mmsoco.registry import TRANSFORMS
from mmsoco.testing import REPO

COCO128 = osp.join(REPO, '..', 'shared', 'datasets', 'coco128', 'images', 'train2017')
K = 4
FPN_100 = 'soco_resnet50-fpn_16xb128-coslr-100e_in1k'
C4_100 = 'soco_resnet50-c4_16xb128-coslr-100e_in1k'
STAR = 'soco-star_resnet50-fpn_16xb128-coslr-400e_in1k'
GEOMETRY = ('BoxAwareRandomFlip', 'BoxJitter')


@pytest.fixture(scope='module')
def photos(tmp_path_factory):
    """Eight coco128 photos (landscape and portrait), decoded once, with their proposals."""
    if not osp.isdir(COCO128):
        pytest.skip(f'{COCO128} not present (the shared real datasets are not on this machine)')
    from data_prep.generate_proposals import main as generate
    from data_prep.storage import ProposalStore
    root = tmp_path_factory.mktemp('coco128')
    os.makedirs(root / 'train')
    names = sorted(os.listdir(COCO128))[:8]
    for name in names:
        os.symlink(osp.join(COCO128, name), root / 'train' / name)
    assert generate([str(root / 'train'), '--out', str(root / 'p.npz'), '--workers', '1',
                     '--no-progress']) == 0
    store = ProposalStore.load(str(root / 'p.npz'))
    out = [(cv2.imread(osp.join(COCO128, n)), np.asarray(store[n], np.float32).reshape(-1, 4))
           for n in names]
    shapes = {img.shape[1] > img.shape[0] for img, _ in out}
    assert shapes == {True, False}, 'want landscape and portrait photos'
    assert min(len(b) for _, b in out) > 2 * K
    return out


PROPOSAL_STEPS = ('SelectProposals', 'FitProposals')
VIEW_STEPS = ('SoCoViews', 'SoCoOriginalViews')


def transforms_of(config, keep=None):
    """The config's proposal step and view transform, built; ``keep`` filters the views'
    sub-pipelines by type (photometric ones cost time and move no box)."""
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'soco', config + '.py'))
    pipeline = cfg.train_dataloader.dataset.pipeline
    select = next(t for t in pipeline if t['type'] in PROPOSAL_STEPS)
    views = copy.deepcopy(next(t for t in pipeline if t['type'] in VIEW_STEPS))
    if keep is not None:
        views['view_transforms'] = [[t for t in vt if t['type'] in keep]
                                    for vt in views['view_transforms']]
    return TRANSFORMS.build(select), TRANSFORMS.build(views)


def draw(config, photos, n, keep=GEOMETRY, seed=0):
    """``n`` samples of the config's views, cycling over the photos: (results, proposals)."""
    np.random.seed(seed)
    select, views = transforms_of(config, keep)
    for i in range(n):
        img, boxes = photos[i % len(photos)]
        results = dict(img=img, proposals=boxes, proposal_ids=np.arange(len(boxes)))
        yield views(select(results)), boxes


def box_set(results, v, pair):
    """Index of the box set of view ``v`` for ``pair`` (or for every pair of ``v``)."""
    return next(s for s, key in enumerate(results['box_sets']) if key in ((v, pair), (v, None)))


def pairs(results):
    """``(b, boxes in V1, boxes in Vb, ids, valid)`` for each pair (V1, Vb)."""
    out = []
    for b in range(1, len(results['img'])):
        s1, sb = box_set(results, 0, (0, b)), box_set(results, b, (0, b))
        out.append((b, results['view_bboxes'][s1], results['view_bboxes'][sb],
                    results['view_proposal_ids'][s1], results['proposal_valid'][s1]))
    return out


def to_view(boxes, matrix, shape):
    """Boxes (n, 4) of the image into a view (axis-aligned 3x3 matrix, maybe mirrored),
    clipped to the view of ``shape`` (h, w)."""
    xs = boxes[:, 0::2] * matrix[0, 0] + matrix[0, 2]
    ys = boxes[:, 1::2] * matrix[1, 1] + matrix[1, 2]
    out = np.stack([xs.min(1), ys.min(1), xs.max(1), ys.max(1)], 1)
    return np.clip(out, 0, [shape[1], shape[0], shape[1], shape[0]])


def crop_of(results, v):
    """The region of the image that view ``v`` shows: (x0, y0, x1, y1) in image pixels."""
    m = results['view_matrices'][v]
    h, w = results['view_shapes'][v]
    xs = (np.array([0., w]) - m[0, 2]) / m[0, 0]
    ys = (np.array([0., h]) - m[1, 2]) / m[1, 1]
    return np.array([xs.min(), ys.min(), xs.max(), ys.max()])


def overlaps(boxes, crop, more_than=0.):
    iw = np.minimum(boxes[:, 2], crop[2]) - np.maximum(boxes[:, 0], crop[0])
    ih = np.minimum(boxes[:, 3], crop[3]) - np.maximum(boxes[:, 1], crop[1])
    return (iw > more_than) & (ih > more_than)


# ------------------------------------------------------------------------------ statistics
def selection_stats(config, photos, n=1000):
    """How often a pair has fewer than K proposals although K overlap its crop; whether every
    proposal of a pair overlaps its crop; the shared proposals of the V1 sets of V1-V2 and V1-V3
    against what two independent draws of K would share (mean over samples)."""
    short = chances = outside = edge = 0
    common, expected = [], []
    for results, boxes in draw(config, photos, n):
        chosen = []
        for b, _, _, ids, valid in pairs(results)[:2]:
            crop = crop_of(results, b)
            # the original counts a proposal that shares two pixel rows and columns
            candidates = overlaps(boxes, crop, 1.)
            ids = set(ids[valid].tolist()) - {-1}
            outside += sum(not overlaps(boxes[[i]], crop)[0] for i in ids)
            # sharing a single pixel row or column is not enough (crop corners are whole pixels)
            edge += sum(not overlaps(boxes[[i]], crop, 1. + 1e-4)[0] for i in ids)
            if candidates.sum() >= K:
                chances += 1
                short += len(ids) < K
            chosen.append((ids, candidates))
        (ids2, cand2), (ids3, cand3) = chosen
        common.append(len(ids2 & ids3))
        # two independent uniform draws of min(K, n) among each pair's candidates
        expected.append((cand2 & cand3).sum() * min(1., K / max(cand2.sum(), 1)) *
                        min(1., K / max(cand3.sum(), 1)))
    return dict(short=short / chances, outside=outside, edge=edge, common=np.mean(common),
                expected=np.mean(expected), sem=np.std(common) / np.sqrt(n))


def test_each_pair_selects_its_own_k_among_proposals_overlapping_its_crop(photos):
    stats = selection_stats(FPN_100 + '_original-recipe', photos)
    assert stats['outside'] == 0                 # every selected proposal overlaps its crop
    assert stats['edge'] == 0                    # ... by more than one pixel each way
    assert stats['short'] == 0                   # K whenever K overlap
    # the two V1 sets are independent draws: they share what chance makes them share
    assert abs(stats['common'] - stats['expected']) < 4 * stats['sem'] + 0.05, stats
    # the paper's text: one set of K for every pair, drawn before the crops
    paper = selection_stats(FPN_100, photos, n=500)
    assert paper['common'] > paper['expected'] + 1, paper


def jitter_stats(config, photos, n=1000):
    """For each view, the fraction of boxes that are not the proposal mapped into the view;
    of V1's jittered boxes, the largest move over the box size; and, for proposals in both V1
    sets, how often the two V1 boxes differ."""
    moved = {}
    largest = 0.
    both = differ = 0
    for results, boxes in draw(config, photos, n):
        matrices, shapes = results['view_matrices'], results['view_shapes']
        v1_of = {}
        for b, in_v1, in_vb, ids, valid in pairs(results):
            ids, in_v1, in_vb = ids[valid], in_v1[valid], in_vb[valid]
            if (ids < 0).any():
                continue
            for v, got in ((0, in_v1), (b, in_vb)):
                exact = to_view(boxes[ids], matrices[v], shapes[v])
                off = np.abs(got - exact).max(1) > 1e-3
                moved.setdefault(v, []).extend(off.tolist())
                if v == 0 and off.any():
                    size = np.repeat(exact[:, 2:] - exact[:, :2], 2, 0).reshape(-1, 4)
                    largest = max(largest, (np.abs(got - exact) / size)[off].max())
            for i, box in zip(ids.tolist(), in_v1):
                if i in v1_of and b != 3:        # SoCo*'s V1-V4 shares V1-V2's boxes
                    both += 1
                    differ += np.abs(v1_of[i] - box).max() > 1e-3
                v1_of[i] = box
    return dict({f'V{v + 1}': np.mean(m) for v, m in moved.items()}, largest=largest,
                differ=differ / max(both, 1), both=both)


def test_box_jitter_moves_v1_boxes_once_per_pair_and_no_other_view(photos):
    stats = jitter_stats(FPN_100 + '_original-recipe', photos)
    assert 0.4 < stats['V1'] < 0.6, stats       # p = 0.5 per box
    assert stats['V2'] == 0 and stats['V3'] == 0, stats
    # x2 = x1 + w moves by (r1 + r3) w, |r| <= 0.1; clipping only shortens the move
    assert 0.1 < stats['largest'] <= 0.2 + 1e-4, stats
    # the same proposal in both V1 sets: jittered independently, equal only if neither moved
    assert stats['both'] > 100 and 0.65 < stats['differ'] < 0.85, stats
    assert jitter_stats(C4_100 + '_original-recipe', photos, n=300)['V1'] == 0
    paper = jitter_stats(FPN_100, photos, n=500)
    assert paper['V1'] == 0 and paper['V2'] > 0.4       # the paper jitters V2, V3, not V1


def crop_stats(config, photos, n=1000, views=(1, 2)):
    """Area fraction of the image and aspect ratio (in the image's pixels) of the crops."""
    scale = {v: [] for v in views}
    ratio_ok = []
    for results, _ in draw(config, photos, n):
        h, w = results['img'][0].shape[:2]
        x0, y0, x1, y1 = crop_of(results, 0)          # V1: the whole image
        area = (x1 - x0) * (y1 - y0)
        for v in views:
            c = crop_of(results, v)
            cw, ch = c[2] - c[0], c[3] - c[1]
            scale[v].append(cw * ch / area)
            # within the range up to one pixel of rounding of each side
            ratio_ok.append((cw + 1) / max(ch - 1, 1) >= 3 / 4 and (cw - 1) / (ch + 1) <= 4 / 3)
    return {v: np.array(s) for v, s in scale.items()}, np.mean(ratio_ok)


@pytest.fixture(scope='module')
def crops(photos):
    """Crop statistics of the FPN 100-epoch original recipe and of its paper-text config."""
    return crop_stats(FPN_100 + '_original-recipe', photos), crop_stats(FPN_100, photos, n=300)


def test_v3_is_an_independent_crop_of_half_to_all_of_the_image(photos, crops):
    (scale, _), (paper, _) = crops
    for v in (1, 2):
        assert scale[v].min() > 0.49 and scale[v].max() <= 1.0 + 1e-6, (v, scale[v].min())
        # the whole range is used (large scales fit the image only near its own aspect ratio)
        assert np.percentile(scale[v], 10) < 0.6 and scale[v].max() > 0.95
    assert abs(np.corrcoef(scale[1], scale[2])[0, 1]) < 0.1
    assert np.corrcoef(paper[1], paper[2])[0, 1] > 0.99  # V3 = V2 downsampled
    c4, _ = crop_stats(C4_100 + '_original-recipe', photos, n=300, views=(1, ))
    assert c4[1].min() > 0.59                   # --crop 0.6


def test_crop_aspect_ratio_lies_in_three_quarters_to_four_thirds_of_image_pixels(crops):
    (_, inside), (_, paper) = crops
    assert inside == 1.0
    assert paper < 0.8                           # drawn in V1's square frame


def crop_centres(config, photos, n=400, views=(1, 2)):
    """Per view, the crop centres (x, y) as fractions of the image's width and height."""
    centres = {v: [] for v in views}
    for results, _ in draw(config, photos, n):
        x0, y0, x1, y1 = crop_of(results, 0)          # V1: the whole image
        for v in views:
            c = crop_of(results, v)
            centres[v].append(((c[0] + c[2]) / 2 / (x1 - x0), (c[1] + c[3]) / 2 / (y1 - y0)))
    return {v: np.array(c) for v, c in centres.items()}


def test_v3_crop_is_placed_independently_of_v2s(photos):
    """Not only its scale: V3's crop centre does not follow V2's."""
    centres = crop_centres(FPN_100 + '_original-recipe', photos)
    for axis in (0, 1):
        assert abs(np.corrcoef(centres[1][:, axis], centres[2][:, axis])[0, 1]) < 0.15
    paper = crop_centres(FPN_100, photos, n=100)   # V3 = V2 downsampled: the same centre
    assert np.corrcoef(paper[1][:, 0], paper[2][:, 0])[0, 1] > 0.99


def test_soco_star_recipe_v4_is_v2_at_112_with_v1_v2s_proposals(photos):
    for results, _ in draw(STAR + '_original-recipe', photos, 50):
        assert [im.shape[:2] for im in results['img']] == [(224, 224), (224, 224), (192, 192),
                                                           (112, 112)]
        assert results['box_sets'] == [(v, (0, b)) for b in (1, 2, 3) for v in (0, b)]
        np.testing.assert_allclose(crop_of(results, 3), crop_of(results, 1), atol=1e-3)
        v1_of_v4, v1_of_v2 = box_set(results, 0, (0, 3)), box_set(results, 0, (0, 1))
        np.testing.assert_array_equal(results['view_proposal_ids'][v1_of_v4],
                                      results['view_proposal_ids'][v1_of_v2])
        np.testing.assert_array_equal(results['view_bboxes'][v1_of_v4],
                                      results['view_bboxes'][v1_of_v2])


def test_views_picture_shows_the_k_proposals_each_pair_selected(photos):
    """The first column of ``tools/visualize_views.py``: the proposals of the pairs (K each),
    not every proposal of the image."""
    from mmsoco.datasets.visualization import selected_proposals
    for results, boxes in draw(FPN_100 + '_original-recipe', photos, 20):
        shown, ids = selected_proposals(results)
        chosen = set()
        for _, _, _, pair_ids, valid in pairs(results):
            chosen |= set(pair_ids[valid].tolist())
        assert set(ids.tolist()) == chosen - {-1} and len(shown) == len(ids)
        assert len(ids) <= 2 * K < len(boxes)


# ------------------------------------------------------------------------------ cutout
def cutout_transform(config):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'soco', config + '.py'))
    views = next(t for t in cfg.train_dataloader.dataset.pipeline if t['type'] in VIEW_STEPS)
    cut = [t for t in views['view_transforms'][1] if t['type'] == 'BoxCutout']
    assert cut and views['view_transforms'][1][-1] is cut[0], 'cutout last, after colour'
    return TRANSFORMS.build(cut[0]), cfg.model.data_preprocessor


def test_cutout_is_a_square_of_a_tenth_to_three_tenths_of_the_box_filled_with_the_mean(photos):
    cut, preprocessor = cutout_transform(FPN_100 + '_original-recipe')
    np.random.seed(0)
    scaled = []       # each photo as a 224x224 view, with its proposals in the view's pixels
    for img, boxes in photos:
        sx, sy = 224 / img.shape[1], 224 / img.shape[0]
        scaled.append((cv2.resize(img, (224, 224)), boxes * np.array([sx, sy, sx, sy])))
    fractions, cut_count, beyond = [], 0, 0
    fills = set()
    n = 2000
    for i in range(n):
        view, boxes = scaled[i % len(scaled)]
        box = boxes[(i // len(scaled)) % len(boxes)]
        out = cut(dict(img=view, proposals=box[None]))['img']
        changed = (out != view).any(2)
        if not changed.any():
            continue
        cut_count += 1
        rows, cols = np.nonzero(changed)
        r0, r1, c0, c1 = rows.min(), rows.max(), cols.min(), cols.max()
        region = out[r0:r1 + 1, c0:c1 + 1]
        assert (region == region[0, 0]).all()         # one colour over the whole rectangle
        fills.add(tuple(region[0, 0].tolist()))
        if r0 == 0 or c0 == 0 or r1 == 223 or c1 == 223:
            continue                                 # clipped by the view: side unknown
        side, area = c1 - c0 + 1, (box[2] - box[0]) * (box[3] - box[1])
        assert r1 - r0 + 1 == side                   # a square
        # an odd number of pixels around the centre: sqrt(f * area) rounded, within 1.5 px
        assert np.sqrt(0.1 * area) - 0.5 <= side <= np.sqrt(0.3 * area) + 1.5, (side, area)
        cx, cy = (c0 + c1) / 2, (r0 + r1) / 2         # the centre pixel lies in the box
        assert box[0] - 1 < cx < box[2] and box[1] - 1 < cy < box[3], (cx, cy, box)
        beyond += c0 < box[0] - 1 or c1 >= box[2] + 1 or r0 < box[1] - 1 or r1 >= box[3] + 1
        if area >= 100 ** 2:
            fractions.append(side ** 2 / area)
    assert abs(cut_count / n - 0.5) < 0.04          # p = 0.5 per box
    assert beyond > 0.1 * cut_count                 # the centre, not the square, is in the box
    # near-uniform on [0.1, 0.3]: quartiles at 0.15, 0.2, 0.25 (large boxes: rounding < 0.01)
    q = np.percentile(fractions, [0, 25, 50, 75, 100])
    assert len(fractions) > 200 and q[0] > 0.09 and q[4] < 0.31, q
    np.testing.assert_allclose(q[1:4], [0.15, 0.2, 0.25], atol=0.02)
    # the fill is 0 after the data preprocessor's normalisation (RGB mean / std): the mean
    [fill] = fills
    rgb = np.array(fill[::-1], float)
    normalised = (rgb - np.array(preprocessor.mean)) / np.array(preprocessor.std)
    assert np.abs(normalised).max() < 0.01, normalised


def fill_fraction(config, photos, n=120):
    """Per view, the fraction of pixels that are exactly the cutout fill (mean BGR)."""
    fill = np.array([104, 116, 124], np.uint8)
    per_view = {}
    for results, _ in draw(config, photos, n, keep=None, seed=1):
        for v, img in enumerate(results['img']):
            per_view.setdefault(v, []).append((img == fill).all(2).mean())
    return {v: np.mean(f) for v, f in per_view.items()}


def test_cutout_runs_on_v2_and_v3_only_after_colour(photos):
    frac = fill_fraction(FPN_100 + '_original-recipe', photos)
    assert frac[0] < 0.002, frac                 # V1: none (a photo has few such pixels)
    assert frac[1] > 0.03 and frac[2] > 0.03, frac
    paper = fill_fraction(FPN_100, photos, n=40)
    assert paper[1] < 0.002, paper


# ------------------------------------------------------------------------------ configs
RECIPES = [C4_100, 'soco_resnet50-c4_16xb128-coslr-400e_in1k', FPN_100,
           'soco_resnet50-fpn_16xb128-coslr-400e_in1k', STAR]


def test_each_recipe_config_changes_only_the_data_and_roi_pooling():
    for name in RECIPES:
        recipe = Config.fromfile(osp.join(REPO, 'configs', 'soco', name + '_original-recipe.py'))
        paper = Config.fromfile(osp.join(REPO, 'configs', 'soco', name + '.py'))
        assert recipe.model.to_dict() == dict(paper.model.to_dict(), roi_pooling='original')
        mine, theirs = recipe.to_dict(), paper.to_dict()
        for key in set(mine) | set(theirs):
            if key.startswith('view_pipeline') or key in ('model', 'train_pipeline', 'mean_bgr'):
                continue
            if key == 'train_dataloader':
                mine[key]['dataset'].pop('pipeline'), theirs[key]['dataset'].pop('pipeline')
            assert mine.get(key) == theirs.get(key), (name, key)


def test_train_py_refuses_single_pooling_with_a_per_pair_recipe_in_one_line(
        tmp_path, monkeypatch):
    import importlib.util
    import sys

    from mmsoco.engine.compatibility import pooling_error as per_pair_pooling_error
    for name in RECIPES:
        cfg = Config.fromfile(osp.join(REPO, 'configs', 'soco', name + '_original-recipe.py'))
        assert per_pair_pooling_error(cfg) is None
        cfg.model.roi_pooling = 'single'
        # C4 has one pair: V1 has one box set, and 'single' embeds it as 'original' would
        assert (per_pair_pooling_error(cfg) is None) == name.startswith('soco_resnet50-c4')
    # the tool itself, in this process (its imports are loaded already)
    spec = importlib.util.spec_from_file_location('train_tool', osp.join(REPO, 'tools',
                                                                         'train.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    config = osp.join(REPO, 'configs', 'soco', FPN_100 + '_original-recipe.py')
    monkeypatch.setattr(sys, 'argv', ['train.py', config, '--work-dir', str(tmp_path),
                                      '--cfg-options', 'model.roi_pooling=single'])
    with pytest.raises(SystemExit) as exit_:
        tool.main()
    assert exit_.value.code == f'error: {config}: ' + per_pair_pooling_error(cfg)
    assert len(exit_.value.code.splitlines()) == 1 and not os.listdir(tmp_path)
