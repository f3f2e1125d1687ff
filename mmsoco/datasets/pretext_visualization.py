"""Draw what a dense pretext network sees (``tools/visualize_pretext.py``).

- Patch-level rotation: the rotated patches (grid drawn), the label map at full resolution and at
  the decoder's output resolution, each angle in its own colour.
- EDMoCo (MoCo v2 views): the query view and the key view.
"""
from typing import List, Optional, Sequence

import cv2
import numpy as np

from .visualization import _GAP, _panel

#: BGR colour of each rotation k (0, 90, 180, 270 degrees); grey for the gaps
ANGLE_COLOURS = ((220, 120, 30), (60, 180, 60), (30, 140, 240), (50, 50, 220))
IGNORE_COLOUR = (160, 160, 160)


def run_until_pack(pipeline: Sequence, data_info: dict) -> dict:
    """Run transforms on ``data_info`` up to (not including) the first ``Pack*`` transform."""
    results = data_info
    for transform in pipeline:
        if type(transform).__name__.startswith('Pack'):
            break
        results = transform(results)
        if results is None:
            raise RuntimeError(f'{transform} returned None')
    return results


def decoder_stride(model_cfg: dict) -> int:
    """Output stride of a :class:`PretextEncoderDecoder` config, read without building it (the
    stem's 4 times the stage strides; 4 for DeepLabV3+, which fuses C2)."""
    ed = model_cfg['backbone']
    if str(ed['decode_head'].get('type', '')).endswith('DepthwiseSeparableASPPHead'):
        return 4
    return 4 * int(np.prod(ed['backbone'].get('strides', (1, 2, 2, 2))))


def colour_labels(labels: np.ndarray) -> np.ndarray:
    """(h, w) rotation labels -> (h, w, 3) BGR."""
    out = np.empty(labels.shape + (3, ), np.uint8)
    out[:] = IGNORE_COLOUR
    for k, colour in enumerate(ANGLE_COLOURS):
        out[labels == k] = colour
    return out


def _legend(height: int) -> np.ndarray:
    panel = np.full((height, 70, 3), 255, np.uint8)
    for k, colour in enumerate(ANGLE_COLOURS):
        y = 8 + 22 * k
        cv2.rectangle(panel, (4, y), (20, y + 14), colour, -1)
        cv2.putText(panel, f'{90 * k}', (26, y + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0),
                    1, cv2.LINE_AA)
    return panel


def draw_patch_rotation(results: dict, stride: int, grid: Optional[int] = None) -> np.ndarray:
    """One row: rotated patches, label map, label map at the decoder's stride, legend.

    Args:
        results (dict): Output of :class:`RandomPatchRotate` (``img``, ``patch_rot``,
            ``patch_rot_grid``).
        stride (int): The decoder's output stride.
        grid (int, optional): Patches per side; read from ``patch_rot_grid`` when None.
    """
    img, labels = results['img'].copy(), results['patch_rot']
    size = img.shape[0]
    grid = grid or results['patch_rot_grid'].shape[0]
    for i in range(1, grid):  # patch borders
        p = i * size // grid
        cv2.line(img, (p, 0), (p, size - 1), (255, 255, 255), 1)
        cv2.line(img, (0, p), (size - 1, p), (255, 255, 255), 1)
    h = -(-size // stride)
    small = labels[stride // 2::stride, stride // 2::stride][:h, :h]  # as labels_at_output
    coarse = cv2.resize(colour_labels(small), (size, size), interpolation=cv2.INTER_NEAREST)
    for c in range(1, h):  # decoder cells
        cv2.line(coarse, (c * size // h, 0), (c * size // h, size - 1), (255, 255, 255), 1)
        cv2.line(coarse, (0, c * size // h), (size - 1, c * size // h), (255, 255, 255), 1)
    ks = ' '.join(str(90 * k) for k in results['patch_rot_grid'].ravel())
    row = [_panel(img, f'input, {grid}x{grid} patches', size),
           _panel(colour_labels(labels), f'angle per pixel: {ks}', size),
           _panel(coarse, f'target at stride {stride} ({h}x{h})', size),
           _panel(_legend(size), 'degrees', size)]
    return np.concatenate([np.pad(p, ((0, 0), (0, _GAP), (0, 0)), constant_values=255)
                           for p in row], axis=1)


def draw_two_views(results: dict) -> np.ndarray:
    """One row: MoCo's query view and key view."""
    views = results['img']
    height = max(v.shape[0] for v in views)
    row = [_panel(v, f'view {i + 1} ({"query" if i == 0 else "key"})', height)
           for i, v in enumerate(views)]
    return np.concatenate([np.pad(p, ((0, 0), (0, _GAP), (0, 0)), constant_values=255)
                           for p in row], axis=1)


def render_pretext(pipeline: Sequence, data_info: dict, stride: int, num_draws: int = 1,
                   seed: Optional[int] = None) -> np.ndarray:
    """``num_draws`` rows, each a fresh random draw of the pipeline on ``data_info``.

    Returns:
        np.ndarray: uint8 (h, w, 3) BGR.
    """
    if seed is not None:
        np.random.seed(seed)
    rows: List[np.ndarray] = []
    for _ in range(num_draws):
        results = run_until_pack(pipeline, dict(data_info))
        if 'patch_rot' in results:
            rows.append(draw_patch_rotation(results, stride))
        elif isinstance(results['img'], list):
            rows.append(draw_two_views(results))
        else:
            raise ValueError('the pipeline makes neither rotated patches (RandomPatchRotate) nor '
                             'two views (MultiView): nothing a dense pretext task sees')
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, _GAP), (0, width - r.shape[1]), (0, 0)), constant_values=255)
            for r in rows]
    return np.concatenate(rows, axis=0)
