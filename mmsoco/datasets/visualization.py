"""Draw one sample's views with every proposal in its own colour (``tools/visualize_views.py``).

A person checks with it that each box follows its object through V1..V4: same colour, same
object, whatever the crop, scale and flip.
"""
import colorsys
from typing import List, Optional, Tuple

import cv2
import numpy as np

from .transforms import PackSoCoInputs
from .transforms.proposals import WHOLE_IMAGE_ID

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_TITLE_H = 22
_GAP = 8


def proposal_colour(proposal_id: int) -> Tuple[int, int, int]:
    """A saturated BGR colour per proposal id (golden-ratio hues); white for the whole image."""
    if proposal_id == WHOLE_IMAGE_ID:
        return 255, 255, 255
    r, g, b = colorsys.hsv_to_rgb((proposal_id * 0.618034) % 1., 0.9, 1.)
    return int(b * 255), int(g * 255), int(r * 255)


def _draw_box(img: np.ndarray, box, proposal_id: int, thickness: int = 2) -> None:
    x1, y1, x2, y2 = [int(round(float(v))) for v in box]
    colour = proposal_colour(int(proposal_id))
    # a dark outline under the colour keeps the box readable on any background
    cv2.rectangle(img, (x1, y1), (x2 - 1, y2 - 1), (0, 0, 0), thickness + 2)
    cv2.rectangle(img, (x1, y1), (x2 - 1, y2 - 1), colour, thickness)
    label = 'img' if proposal_id == WHOLE_IMAGE_ID else str(int(proposal_id))
    (tw, th), _ = cv2.getTextSize(label, _FONT, 0.4, 1)
    ty = max(y1, th + 2)
    cv2.rectangle(img, (x1, ty - th - 2), (x1 + tw + 2, ty), colour, -1)
    cv2.putText(img, label, (x1 + 1, ty - 2), _FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)


def _panel(img: np.ndarray, title: str, height: int) -> np.ndarray:
    """The image on a white panel ``height`` pixels high (plus a title strip), top-left aligned."""
    img = img if img.ndim == 3 else cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    panel = np.full((height + _TITLE_H, img.shape[1], 3), 255, np.uint8)
    panel[_TITLE_H:_TITLE_H + img.shape[0]] = img
    cv2.putText(panel, title, (2, _TITLE_H - 7), _FONT, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return panel


def run_until_pack(pipeline, data_info: dict) -> dict:
    """Run a dataset pipeline on ``data_info`` up to (not including) :class:`PackSoCoInputs`."""
    results = data_info
    for transform in pipeline.transforms:
        if isinstance(transform, PackSoCoInputs):
            break
        results = transform(results)
        if results is None:
            raise RuntimeError(f'{transform} returned None')
    return results


def _boxes_of_view(results: dict, v: int):
    """(box, proposal id) of the valid boxes of view ``v``, from every box set of that view
    (V1 of the released recipes has one set per pair)."""
    for s, (view, _) in enumerate(results['box_sets']):
        if view == v:
            for k in np.flatnonzero(results['proposal_valid'][s]):
                yield results['view_bboxes'][s, k], results['view_proposal_ids'][s, k]


def selected_proposals(results: dict):
    """The proposals the views carry (K per pair), in the decoded image's pixels.

    Returns:
        tuple: boxes (float32 (m, 4)) and their ids (int64 (m,)): the entries of
        ``proposals`` that a valid box of some view comes from.
    """
    ids = np.asarray(results['proposal_ids'])
    keep = np.isin(ids, results['view_proposal_ids'][results['proposal_valid']])
    return np.asarray(results['proposals'], np.float32)[keep], ids[keep]


def draw_views(results: dict, original_height: int = 224) -> np.ndarray:
    """One row: the image with its selected proposals, then every view with its boxes.

    Args:
        results (dict): Pipeline results after :class:`SoCoViews` or
            :class:`SoCoOriginalViews` (see :func:`run_until_pack`).
        original_height (int): Height the original image is shown at.

    Returns:
        np.ndarray: uint8 (h, w, 3) BGR.
    """
    views: List[np.ndarray] = results['img']
    height = max(original_height, max(v.shape[0] for v in views))

    # the decoded image with the selected proposals (K per pair), before any view geometry
    src = cv2.imread(results['img_path']) if 'img_path' in results else None
    panels = []
    if src is not None:
        scale = original_height / src.shape[0]
        shown = cv2.resize(src, (max(1, int(round(src.shape[1] * scale))), original_height))
        for box, pid in zip(*selected_proposals(results)):
            _draw_box(shown, np.asarray(box) * scale, pid)
        panels.append(_panel(shown, f'image {src.shape[1]}x{src.shape[0]}', height))

    flips = results.get('view_flips', [False] * len(views))
    for v, view in enumerate(views):
        shown = np.ascontiguousarray(view.copy())
        # the padding repeats a valid box: nothing new to draw
        for box, pid in _boxes_of_view(results, v):
            _draw_box(shown, box, pid)
        title = f'V{v + 1} {view.shape[1]}x{view.shape[0]}' + (' flip' if flips[v] else '')
        panels.append(_panel(shown, title, height))

    gap = np.full((height + _TITLE_H, _GAP, 3), 255, np.uint8)
    row = [panels[0]]
    for panel in panels[1:]:
        row += [gap, panel]
    return np.concatenate(row, axis=1)


def render_sample_views(dataset, index: int = 0, num_draws: int = 1,
                        seed: Optional[int] = None) -> np.ndarray:
    """Grid of ``num_draws`` rows, each a fresh random draw of the views of sample ``index``.

    Returns:
        np.ndarray: uint8 (h, w, 3) BGR.
    """
    if seed is not None:
        np.random.seed(seed)
    rows = [draw_views(run_until_pack(dataset.pipeline, dataset.get_data_info(index)))
            for _ in range(num_draws)]
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, _GAP), (0, width - r.shape[1]), (0, 0)), constant_values=255)
            for r in rows]
    return np.concatenate(rows, axis=0)


def save_sample_views(dataset, out_file: str, index: int = 0, num_draws: int = 1,
                      seed: Optional[int] = None) -> np.ndarray:
    """Write :func:`render_sample_views` as an image file (PNG) and return the grid."""
    grid = render_sample_views(dataset, index, num_draws, seed)
    if not cv2.imwrite(out_file, grid):
        raise OSError(f'could not write {out_file}')
    return grid
