"""The paper's proposal filter, its fallbacks, and selective search's output contract."""
import numpy as np
import pytest

from data_prep.filters import (LEVEL_EMPTY, LEVEL_FILTERED, LEVEL_RATIO_ONLY, LEVEL_UNFILTERED,
                               BoxFilter)

W, H = 400, 300  # sqrt(WH) = 346.4


def box(x, y, w, h):
    return [x, y, x + w, y + h]


def test_filter_thresholds_are_the_papers_and_inclusive():
    f = BoxFilter()
    s = np.sqrt(W * H)
    side = lambda ratio: s * ratio  # noqa: E731  side of a square box at a given scale
    boxes = np.array([
        box(0, 0, side(0.5), side(0.5)),        # keep: square, scale 0.5
        box(0, 0, 31.9, 200),                   # width < 32
        box(0, 0, 200, 31.9),                   # height < 32
        box(0, 0, 60, 181),                     # w/h < 1/3
        box(0, 0, 181, 60),                     # w/h > 3
        box(0, 0, 60, 180),                     # w/h = 1/3 exactly: keep (scale 0.3)
        box(0, 0, 300, 100),                    # w/h = 3 exactly: keep (scale 0.5)
        box(0, 0, side(0.29), side(0.29)),      # scale < 0.3
        box(0, 0, side(0.81), side(0.81)),      # scale > 0.8
        box(0, 0, side(0.8), side(0.8)),        # scale = 0.8 exactly: keep
    ], dtype=np.float64)
    np.testing.assert_array_equal(
        f.mask(boxes, W, H), [True, False, False, False, False, True, True, False, False, True])


def test_filter_uses_the_image_size():
    b = np.array([box(0, 0, 100, 100)], dtype=np.float64)
    assert BoxFilter().mask(b, 200, 200).all()      # scale 0.5
    assert not BoxFilter().mask(b, 1000, 1000).any()  # scale 0.1


def test_select_fallbacks_keep_the_minimum_side():
    """As the original code: the ratio-only and the last fallback still need w, h >= 32."""
    f = BoxFilter()
    good = box(50, 50, 150, 150)
    big_square = box(0, 0, 40, 40)    # fails scale (0.12), passes side and ratio
    small_square = box(0, 0, 20, 20)  # fails size and scale, passes ratio
    thin = box(0, 0, 10, 200)         # fails ratio and side
    tall = box(0, 0, 40, 200)         # fails ratio (0.2), passes side
    kept, level = f.select(np.array([good, big_square, small_square, thin], float), W, H)
    assert level == LEVEL_FILTERED
    np.testing.assert_array_equal(kept, [good])

    kept, level = f.select(np.array([big_square, small_square, thin, tall], float), W, H)
    assert level == LEVEL_RATIO_ONLY
    np.testing.assert_array_equal(kept, [big_square])  # not the 20 px square

    kept, level = f.select(np.array([small_square, thin, tall], float), W, H)
    assert level == LEVEL_UNFILTERED
    np.testing.assert_array_equal(kept, [tall])  # the only box with both sides >= 32

    kept, level = f.select(np.array([small_square, thin, box(0, 0, 31.9, 31.9)], float), W, H)
    assert level == LEVEL_EMPTY and kept.shape == (0, 4)

    kept, level = f.select(np.zeros((0, 4)), W, H)
    assert level == LEVEL_EMPTY and kept.shape == (0, 4)


def test_custom_thresholds():
    f = BoxFilter(min_side=0, min_ratio=0, max_ratio=np.inf, min_scale=0, max_scale=1)
    b = np.array([box(0, 0, 1, 299), box(0, 0, 400, 300)], float)
    assert f.mask(b, W, H).all()


def test_selective_search_boxes_are_whole_unique_inside_and_deterministic():
    from data_prep.demo_collection import load_photo
    from data_prep.selective_search import SelectiveSearch
    img = load_photo('coffee.png')
    h, w = img.shape[:2]
    search = SelectiveSearch()
    boxes = search(img)
    assert boxes.ndim == 2 and boxes.shape[1] == 4 and len(boxes) > 10
    assert np.all(boxes == np.round(boxes))
    assert len(np.unique(boxes, axis=0)) == len(boxes)
    assert boxes[:, 0].min() >= 0 and boxes[:, 1].min() >= 0
    assert boxes[:, 2].max() <= w and boxes[:, 3].max() <= h
    assert np.all(boxes[:, 2] > boxes[:, 0]) and np.all(boxes[:, 3] > boxes[:, 1])
    # OpenCV shuffles its output order; ours is sorted and repeatable
    np.testing.assert_array_equal(boxes, search(img))


def test_selective_search_scale_maps_boxes_back_to_original_pixels():
    from data_prep.demo_collection import load_photo
    from data_prep.selective_search import SelectiveSearch
    img = load_photo('coffee.png')  # 500 x 333
    h, w = img.shape[:2]
    s = SelectiveSearch(scale=150)
    assert s.working_size(w, h) == (150, 100)
    assert SelectiveSearch(scale=0).working_size(w, h) == (w, h)
    assert SelectiveSearch(scale=1000).working_size(w, h) == (w, h)  # never enlarged
    boxes = s(img)
    # a box spanning the whole working image spans the whole original image
    assert boxes[:, 2].max() == w and boxes[:, 3].max() == h
    assert boxes[:, 2].max() > 150


@pytest.mark.parametrize('spec,expected', [
    ('all', 'color+fill+size+texture'),
    ('size+Color', 'size+color'),
    ('fill', 'fill'),
])
def test_strategy_spec(spec, expected):
    from data_prep.selective_search import SelectiveSearch
    assert SelectiveSearch(strategy=spec).strategy == expected


def test_bad_settings_are_rejected():
    from data_prep.selective_search import SelectiveSearch
    with pytest.raises(ValueError, match='strategy'):
        SelectiveSearch(strategy='colour')
    with pytest.raises(ValueError, match='color space'):
        SelectiveSearch(color_spaces=('xyz', ))
    with pytest.raises(ValueError):
        SelectiveSearch(scale=-1)
