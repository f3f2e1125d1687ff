"""Proposal selection, box jitter, flip, BYOL's photometric transforms, cutout and packing."""
import cv2
import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF
from mmengine.registry import init_default_scope
from PIL import Image
from skimage import data as skdata

import mmsoco  # noqa: F401
from mmsoco.datasets.transforms import (BoxAwareRandomFlip, BoxCutout, BoxJitter, FastColorJitter,
                                        FastGaussianBlur, FastGrayscale, FastSolarize,
                                        PackSoCoInputs, SelectProposals)
from mmsoco.datasets.transforms.photometric import (adjust_brightness, adjust_contrast, adjust_hue,
                                                    adjust_saturation)
from mmsoco.registry import TRANSFORMS


@pytest.fixture(scope='module')
def photo():
    """chelsea (a real photo), BGR, 300x451."""
    return np.ascontiguousarray(skdata.chelsea()[..., ::-1])


def test_registered_under_mmselfsup_scope():
    init_default_scope('mmselfsup')
    for name in ('FitProposals', 'SelectProposals', 'BoxJitter', 'SoCoViews',
                 'SoCoOriginalViews', 'BoxAwareRandomFlip',
                 'FastColorJitter', 'FastGrayscale', 'FastGaussianBlur', 'FastSolarize',
                 'BoxCutout', 'PackSoCoInputs', 'LoadImageFromFile', 'LoadImageOrSkip'):
        assert TRANSFORMS.build(dict(type=name)) is not None, name


def test_select_proposals_draws_k_distinct(photo):
    boxes = np.stack([np.arange(10), np.zeros(10), np.arange(10) + 20, np.full(10, 30)], 1)
    select = SelectProposals(num_proposals=4)
    seen = set()
    for seed in range(20):
        np.random.seed(seed)
        out = select(dict(img=photo, proposals=boxes.astype(np.float32),
                          proposal_ids=np.arange(10)))
        ids = out['proposal_ids']
        assert len(ids) == 4 and len(set(ids.tolist())) == 4 and ids.dtype == np.int64
        np.testing.assert_array_equal(out['proposals'], boxes[ids])
        assert out['num_proposals'] == 4
        seen.update(ids.tolist())
    assert seen == set(range(10))  # random, not the first K
    # fewer than K: all of them
    out = select(dict(img=photo, proposals=boxes[:2].astype(np.float32)))
    assert sorted(out['proposal_ids'].tolist()) == [0, 1]
    assert select.fallbacks['no_proposals'] == 0


def test_select_proposals_rescales_clips_and_drops_empty(photo):
    h, w = photo.shape[:2]
    boxes = np.array([[0, 0, 100, 50], [-10, -10, 2 * w, 2 * h], [10, 10, 10, 40]], np.float32)
    out = SelectProposals(num_proposals=4)(dict(img=photo, proposals=boxes,
                                                proposals_image_size=(w // 2, h // 2)))
    order = np.argsort(out['proposal_ids'])
    assert out['proposal_ids'][order].tolist() == [0, 1]  # the zero-width box is dropped
    np.testing.assert_allclose(out['proposals'][order],
                               [[0, 0, 200 * w / (w // 2) / 2, 100 * h / (h // 2) / 2],
                                [0, 0, w, h]], rtol=1e-5)


def test_box_jitter_follows_the_paper(photo):
    boxes = np.array([[100, 100, 200, 150]] * 2000, np.float32)
    np.random.seed(0)
    out = BoxJitter(prob=0.5, ratio=0.1)(dict(img=photo, proposals=boxes.copy()))['proposals']
    moved = np.abs(out - boxes).max(1) > 0
    assert 0.45 < moved.mean() < 0.55
    x, y = out[:, 0], out[:, 1]
    w, h = out[:, 2] - out[:, 0], out[:, 3] - out[:, 1]
    assert np.abs(x - 100).max() <= 10 + 1e-3 and np.abs(y - 100).max() <= 5 + 1e-3
    assert np.abs(w / 100 - 1).max() <= 0.1 + 1e-5 and np.abs(h / 50 - 1).max() <= 0.1 + 1e-5
    assert np.abs(x[moved] - 100).max() > 9  # the whole range is used
    out = BoxJitter(prob=0.)(dict(img=photo, proposals=boxes.copy()))['proposals']
    np.testing.assert_array_equal(out, boxes)
    # clipped to the image
    edge = np.array([[0, 0, photo.shape[1], photo.shape[0]]] * 50, np.float32)
    out = BoxJitter(prob=1.)(dict(img=photo, proposals=edge))['proposals']
    assert (out >= 0).all() and (out[:, 2] <= photo.shape[1]).all()


def test_flip_moves_boxes_with_pixels(photo):
    img = photo.copy()
    img[50:80, 10:40] = (0, 0, 255)
    box = np.array([[10, 50, 40, 80]], np.float32)
    out = BoxAwareRandomFlip(prob=1.)(dict(img=img, proposals=box, view_matrix=np.eye(3)))
    w = img.shape[1]
    np.testing.assert_allclose(out['proposals'], [[w - 40, 50, w - 10, 80]])
    x1, y1, x2, y2 = out['proposals'][0].astype(int)
    assert (out['img'][y1:y2, x1:x2] == (0, 0, 255)).all()
    np.testing.assert_allclose(out['view_matrix'], [[-1, 0, w], [0, 1, 0], [0, 0, 1]])
    assert out['flip']
    out = BoxAwareRandomFlip(prob=0.)(dict(img=img, proposals=box))
    assert not out['flip'] and out['img'] is img


def _tv(img_bgr, fn, factor):
    """torchvision's PIL implementation, BGR in and out."""
    pil = Image.fromarray(np.ascontiguousarray(img_bgr[..., ::-1]))
    return np.asarray(fn(pil, factor))[..., ::-1].astype(int)


@pytest.mark.parametrize('ours,theirs,factor', [
    (adjust_brightness, TF.adjust_brightness, 0.6), (adjust_brightness, TF.adjust_brightness, 1.4),
    (adjust_contrast, TF.adjust_contrast, 0.6), (adjust_contrast, TF.adjust_contrast, 1.4),
    (adjust_saturation, TF.adjust_saturation, 0.2), (adjust_saturation, TF.adjust_saturation, 1.2),
    (adjust_hue, TF.adjust_hue, 0.1), (adjust_hue, TF.adjust_hue, -0.1)])
def test_colour_ops_match_torchvision(photo, ours, theirs, factor):
    diff = np.abs(ours(photo, factor).astype(int) - _tv(photo, theirs, factor))
    assert diff.mean() < 1.5 and np.percentile(diff, 99) <= 8, (diff.mean(), diff.max())


def _fitted_factor(name, src, out):
    """The factor that turned ``src`` into ``out``, fitted on the pixels that did not saturate.

    Brightness is ``out = f * src``, contrast ``out = f * src + c``, saturation
    ``out - grey = f * (src - grey)``; hue adds ``f * 255`` to OpenCV's full-range HSV hue
    (read on the well-coloured pixels; returned in turns, as the factor).
    """
    s, o = src.astype(np.float64), out.astype(np.float64)
    unsaturated = (out > 0) & (out < 255)
    if name == 'brightness':
        keep = (out < 255) & (src > 0)
        return (o[keep] * s[keep]).sum() / (s[keep]**2).sum()
    if name == 'contrast':
        x, y = s[unsaturated], o[unsaturated]
        return ((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean())**2).sum()
    if name == 'saturation':
        grey = cv2.cvtColor(src, cv2.COLOR_BGR2GRAY)[..., None].astype(np.float64)
        return (((o - grey) * (s - grey))[unsaturated].sum() /
                ((s - grey)**2)[unsaturated].sum())
    hsv_src = cv2.cvtColor(src, cv2.COLOR_BGR2HSV_FULL).astype(int)
    hsv_out = cv2.cvtColor(out, cv2.COLOR_BGR2HSV_FULL).astype(int)
    coloured = (hsv_src[..., 1] > 96) & (hsv_src[..., 2] > 96)
    assert coloured.sum() > 1000  # the photo has enough colour to read a hue shift
    shift = (hsv_out[..., 0] - hsv_src[..., 0] + 128) % 256 - 128
    return np.median(shift[coloured]) / 255


@pytest.mark.parametrize('name,amount,low,high', [
    ('brightness', 0.4, 0.6, 1.4), ('contrast', 0.4, 0.6, 1.4), ('saturation', 0.2, 0.8, 1.2),
    ('hue', 0.1, -0.1, 0.1), ('brightness', 1.5, 0., 2.5), ('contrast', 0.1, 0.9, 1.1)])
def test_colour_jitter_factors_fill_the_configured_range(photo, name, amount, low, high):
    """One adjustment on: its factor, read back from each jittered photo, is U[low, high]."""
    src = cv2.resize(photo, (150, 100), interpolation=cv2.INTER_AREA)
    kwargs = dict(brightness=0., contrast=0., saturation=0., hue=0., prob=1.)
    kwargs[name] = amount
    jitter = FastColorJitter(**kwargs)
    np.random.seed(0)
    factors = np.array([_fitted_factor(name, src, jitter(dict(img=src))['img'])
                        for _ in range(200)])
    # never outside the range (the fit is good to 1e-3; the hue shift is a whole 1/255 turn)
    tol = 1 / 255 if name == 'hue' else 2e-3
    assert low - tol <= factors.min() and factors.max() <= high + tol, (factors.min(),
                                                                        factors.max())
    # all of it is used: the extremes come within 3% of its ends (each end is missed with
    # probability 0.97^200 = 0.2% by a right jitter; the seed is fixed anyway) ...
    assert factors.min() < low + 0.03 * (high - low) and factors.max() > high - 0.03 * (
        high - low), (factors.min(), factors.max())
    # ... and uniformly: Kolmogorov-Smirnov distance to U[low, high] (0.14 is p = 0.001 at 200
    # draws)
    u = np.sort((factors - low) / (high - low))
    ranks = np.arange(len(u)) / len(u)
    assert max((ranks + 1 / len(u) - u).max(), (u - ranks).max()) < 0.14


@pytest.mark.parametrize('prob', [0.8, 0.3])
def test_colour_jitter_probability(photo, prob):
    """The photo changes in a fraction ``prob`` of the draws (binomial, 4.5 sigma)."""
    small = cv2.resize(photo, (48, 32), interpolation=cv2.INTER_AREA)
    jitter = FastColorJitter(0.4, 0.4, 0.2, 0.1, prob=prob)
    np.random.seed(0)
    draws, changed = 2000, 0
    for _ in range(draws):
        out = jitter(dict(img=small))['img']
        assert out.shape == small.shape and out.dtype == np.uint8
        changed += not np.array_equal(out, small)
    assert abs(changed - draws * prob) <= 4.5 * np.sqrt(draws * prob * (1 - prob)), changed
    assert (small == cv2.resize(photo, (48, 32), interpolation=cv2.INTER_AREA)).all()
    out = FastColorJitter(prob=0.)(dict(img=photo))['img']
    assert out is photo


def test_grayscale_solarize_blur(photo):
    grey = FastGrayscale(prob=1.)(dict(img=photo))['img']
    assert grey.shape == photo.shape
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
    assert FastGrayscale(prob=0.)(dict(img=photo))['img'] is photo

    ramp = np.tile(np.arange(256, dtype=np.uint8)[None, :, None], (2, 1, 3))
    sol = FastSolarize(threshold=128, prob=1.)(dict(img=ramp))['img']
    expected = np.where(np.arange(256) < 128, np.arange(256), 255 - np.arange(256))
    np.testing.assert_array_equal(sol[0, :, 0], expected)

    np.random.seed(0)
    blurred = FastGaussianBlur(sigma_min=1.5, sigma_max=2., prob=1.)(dict(img=photo))['img']
    assert blurred.shape == photo.shape
    lap = lambda im: np.abs(np.diff(im.astype(int), axis=1)).mean()  # noqa: E731
    assert lap(blurred) < 0.6 * lap(photo)
    assert FastGaussianBlur(prob=0.)(dict(img=photo))['img'] is photo


def test_box_cutout_only_inside_boxes(photo):
    img = np.full((100, 120, 3), 200, np.uint8)
    boxes = np.array([[10, 10, 50, 60], [70, 20, 110, 90]], np.float32)
    np.random.seed(0)
    out = BoxCutout(prob=1., scale=(0.3, 0.5), fill=(0, 0, 0))(dict(img=img,
                                                                    proposals=boxes))['img']
    erased = (out == 0).all(axis=2)
    inside = np.zeros_like(erased)
    for x1, y1, x2, y2 in boxes.astype(int):
        inside[y1:y2, x1:x2] = True
        area = erased[y1:y2, x1:x2].mean()
        assert 0.3**2 * 0.7 < area < 0.5**2 * 1.3
    assert not (erased & ~inside).any()
    assert (img == 200).all()  # the input is not modified in place


def test_pack_soco_inputs():
    views = [np.random.randint(0, 255, (s, s, 3), dtype=np.uint8) for s in (224, 224, 112)]
    results = dict(img=views, view_bboxes=np.zeros((3, 4, 4), np.float32),
                   view_proposal_ids=np.tile(np.array([3, 1, 3, 1]), (3, 1)),
                   proposal_valid=np.tile([True, True, False, False], (3, 1)), img_path='a.jpg',
                   sample_idx=5)
    packed = PackSoCoInputs()(results)
    shapes = [tuple(v.shape) for v in packed['inputs']]
    assert shapes == [(3, 224, 224), (3, 224, 224), (3, 112, 112)]
    assert torch.equal(packed['inputs'][2], torch.from_numpy(views[2]).permute(2, 0, 1))
    ds = packed['data_samples']
    assert ds.proposal_ids.dtype == torch.int64 and ds.proposal_ids.shape == (3, 4)
    assert ds.proposal_valid.tolist() == [[True, True, False, False]] * 3
    assert ds.box_sets == [(0, None), (1, None), (2, None)]   # one set per view by default
    assert ds.view_bboxes.dtype == torch.float32
    assert ds.img_path == 'a.jpg' and ds.sample_idx.value.tolist() == [5]
    with pytest.raises(TypeError, match='SoCoViews'):
        PackSoCoInputs()(dict(img=views[0]))
