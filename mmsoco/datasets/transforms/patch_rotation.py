"""Patch-level rotation (PLR): a square crop cut into g x g patches, each rotated by k x 90 deg."""
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform

from mmsoco.registry import TRANSFORMS

#: Label of pixels that belong to no patch (the gaps); the PLR loss ignores it.
IGNORE_INDEX = 255


@TRANSFORMS.register_module()
class RandomPatchRotate(BaseTransform):
    """Crop a random ``crop_size`` square, cut it into ``grid x grid`` patches, rotate each.

    Patch ``(i, j)`` (row ``i``, column ``j``, side ``p = crop_size / grid``) is rotated
    counter-clockwise by ``k_ij x 90`` degrees (``np.rot90(patch, k_ij)``), ``k_ij`` drawn from
    {0, 1, 2, 3} uniformly and independently; ``np.rot90(out_patch, -k_ij)`` gives the input patch
    back exactly.  The label map holds ``k_ij`` at every pixel of patch ``(i, j)``; the algorithm
    reads it at the decoder's output resolution.

    The patch seams let a network read rotations from edges alone.  Two counters, both off by
    default because the notes' task has neither:

    - ``gap``: each patch keeps only its centred ``(p - gap)`` square, rotated; the border
      (``gap`` pixels between neighbouring patches) is filled with ``fill`` and labelled
      :data:`IGNORE_INDEX`;
    - ``patch_color_jitter``: a colour jitter config (e.g. ``dict(type='FastColorJitter',
      brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1, prob=0.8)``) applied to each
      patch independently.

    Required keys: ``img`` (uint8 (h, w, 3)).  Modified keys: ``img`` (crop_size, crop_size, 3),
    ``img_shape``.  Added keys: ``patch_rot`` (uint8 (crop_size, crop_size): k per pixel, 255 in
    the gaps), ``patch_rot_grid`` (int64 (grid, grid): k of each patch), ``crop_bbox``
    (x1, y1, x2, y2 of the crop in the input).

    Args:
        crop_size (int): Side of the square crop. Defaults to 224.
        grid (int): Patches per side; must divide ``crop_size``. Defaults to 2 (4 patches): the
            notes report that 16 patches (grid 4) left the loss stuck at a very early stage.
        gap (int): Pixels between neighbouring patches; 0 (default) or even, below the patch side.
        fill (int): Grey level of the gaps. Defaults to 0.
        patch_color_jitter (dict, optional): Transform config applied to each patch alone.
            Defaults to None.
    """

    def __init__(self,
                 crop_size: int = 224,
                 grid: int = 2,
                 gap: int = 0,
                 fill: int = 0,
                 patch_color_jitter: Optional[dict] = None) -> None:
        if grid < 1 or crop_size % grid:
            fits = [str(g) for g in range(1, 9) if crop_size % g == 0]
            raise ValueError(f'RandomPatchRotate: grid={grid} does not divide crop_size='
                             f'{crop_size} into square patches; use a grid that divides it '
                             f'({", ".join(fits)}, ...) or another crop_size')
        patch = crop_size // grid
        if gap < 0 or gap % 2 or gap >= patch:
            raise ValueError(f'RandomPatchRotate: gap={gap} must be even and below the patch side '
                             f'{patch} (crop_size {crop_size} / grid {grid})')
        self.crop_size = crop_size
        self.grid = grid
        self.gap = gap
        self.fill = fill
        self.patch_color_jitter = (TRANSFORMS.build(patch_color_jitter)
                                   if patch_color_jitter is not None else None)

    def _crop(self, results: dict) -> np.ndarray:
        img = results['img']
        h, w = img.shape[:2]
        if h < self.crop_size or w < self.crop_size:
            raise ValueError(
                f'RandomPatchRotate: image {results.get("img_path", "")} is {w}x{h}, smaller than '
                f'crop_size={self.crop_size}; resize first (RandomResizedCrop(size='
                f'{self.crop_size}) before it, as configs/dense do) or lower crop_size')
        y = np.random.randint(h - self.crop_size + 1)
        x = np.random.randint(w - self.crop_size + 1)
        results['crop_bbox'] = np.array([x, y, x + self.crop_size, y + self.crop_size])
        return img[y:y + self.crop_size, x:x + self.crop_size]

    def transform(self, results: dict) -> dict:
        crop = self._crop(results)
        p, half = self.crop_size // self.grid, self.gap // 2
        ks = np.random.randint(4, size=(self.grid, self.grid))
        out = np.full_like(crop, self.fill)
        labels = np.full(crop.shape[:2], IGNORE_INDEX, dtype=np.uint8)
        for i in range(self.grid):
            for j in range(self.grid):
                y0, x0 = i * p + half, j * p + half
                y1, x1 = (i + 1) * p - half, (j + 1) * p - half
                patch = crop[y0:y1, x0:x1]
                if self.patch_color_jitter is not None:
                    patch = self.patch_color_jitter(dict(img=patch.copy()))['img']
                out[y0:y1, x0:x1] = np.rot90(patch, ks[i, j])
                labels[y0:y1, x0:x1] = ks[i, j]
        results['img'] = np.ascontiguousarray(out)
        results['img_shape'] = out.shape[:2]
        results['patch_rot'] = labels
        results['patch_rot_grid'] = ks
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(crop_size={self.crop_size}, grid={self.grid}, '
                f'gap={self.gap}, fill={self.fill}, patch_color_jitter={self.patch_color_jitter})')
