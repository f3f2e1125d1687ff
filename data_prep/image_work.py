"""One image's work: read it, run selective search, filter the boxes; never raises for a bad
image."""
import os.path as osp
import time
from typing import List, NamedTuple, Optional, Tuple

import numpy as np

from data_prep.filters import LEVEL_EMPTY, BoxFilter
from data_prep.image_io import ImageError, read_image
from data_prep.selective_search import MAX_SIDE, SelectiveSearch


class ImageResult(NamedTuple):
    """What one image gave: its kept boxes, or why it gave none."""
    rel_path: str
    boxes: np.ndarray  # float64 (k, 4) kept x1, y1, x2, y2 in original pixels; (0, 4) on error
    size: Tuple[int, int]  # (width, height) of the image as the training loader sees it
    level: int  # which filter kept the boxes (data_prep.filters LEVEL_*)
    notes: List[str]  # conversions applied while reading ('grayscale', 'cmyk', ...)
    error: Optional[str]  # why the image failed; None when it did not
    raw_boxes: int  # boxes selective search proposed before filtering
    seconds: float  # time spent on the image


def failed_result(rel_path: str, error: str, seconds: float = 0.0) -> ImageResult:
    """The result of an image that gave no boxes because of ``error``."""
    return ImageResult(rel_path, np.zeros((0, 4)), (0, 0), LEVEL_EMPTY, [], error, 0, seconds)


def process_image(root: str, rel_path: str, search: SelectiveSearch,
                  box_filter: BoxFilter) -> ImageResult:
    """Read, search and filter one image; never raises for a bad image."""
    start = time.perf_counter()
    try:
        img, notes = read_image(osp.join(root, rel_path))
        height, width = img.shape[:2]
        if max(width, height) > MAX_SIDE:
            notes.append('large')
        raw = search(img)
        kept, level = box_filter.select(raw, width, height)
        return ImageResult(rel_path, kept, (width, height), level, notes, None, len(raw),
                           time.perf_counter() - start)
    except ImageError as e:
        error = str(e)
    except MemoryError:
        error = 'out of memory while processing (image too large?)'
    except Exception as e:  # noqa: BLE001 - one bad image must not stop the run
        error = f'{type(e).__name__}: {e}'
    return failed_result(rel_path, error, time.perf_counter() - start)
