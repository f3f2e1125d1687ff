"""Proposal selection, box jitter, flip, BYOL's photometric transforms, cutout and packing."""
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
    for name in ('SelectProposals', 'BoxJitter', 'SoCoViews', 'BoxAwareRandomFlip',
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


def test_colour_jitter_probability_and_range(photo):
    jitter = FastColorJitter(0.4, 0.4, 0.2, 0.1, prob=0.8)
    np.random.seed(0)
    changed = 0
    for _ in range(50):
        out = jitter(dict(img=photo))['img']
        assert out.shape == photo.shape and out.dtype == np.uint8
        changed += not np.array_equal(out, photo)
    assert 30 <= changed <= 48
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
                   proposal_valid=np.array([True, True, False, False]), img_path='a.jpg',
                   sample_idx=5)
    packed = PackSoCoInputs()(results)
    shapes = [tuple(v.shape) for v in packed['inputs']]
    assert shapes == [(3, 224, 224), (3, 224, 224), (3, 112, 112)]
    assert torch.equal(packed['inputs'][2], torch.from_numpy(views[2]).permute(2, 0, 1))
    ds = packed['data_samples']
    assert ds.proposal_ids.dtype == torch.int64 and ds.proposal_ids.shape == (3, 4)
    assert ds.proposal_valid.tolist() == [True, True, False, False]
    assert ds.view_bboxes.dtype == torch.float32
    assert ds.img_path == 'a.jpg' and ds.sample_idx.value.tolist() == [5]
    with pytest.raises(TypeError, match='SoCoViews'):
        PackSoCoInputs()(dict(img=views[0]))
