"""A small, real, ImageNet-style image collection built from scikit-image's bundled photos.

No download: the photos ship inside the scikit-image package (``skimage/data``). Used by the
demo and by tests that need real images. Deterministic: the same call writes the same files.

Layout (paths returned relative to ``out_dir``, the same list :func:`list_images` finds)::

    out_dir/train/n000/astronaut.jpg
    out_dir/train/n001/chelsea.jpg
    ...
    out_dir/train/n000/astronaut_1.jpg     (variants, only when more images are asked for
                                            than there are photos: mirrored, cropped)
"""
import importlib.util
import os
import os.path as osp
from typing import List, Optional

import cv2
import numpy as np

# photos in skimage/data; colour ones first, then grey ones (stored as 3-channel JPEGs)
PHOTOS = ('astronaut.png', 'chelsea.png', 'coffee.png', 'rocket.jpg', 'motorcycle_left.png',
          'motorcycle_right.png', 'hubble_deep_field.jpg', 'ihc.png', 'retina.jpg',
          'camera.png', 'coins.png')
MAX_SIDE = 500  # ImageNet-like size


def skimage_data_dir() -> str:
    """The folder of scikit-image's bundled images (without importing scikit-image)."""
    spec = importlib.util.find_spec('skimage')
    if spec is None or not spec.submodule_search_locations:
        raise ImportError('scikit-image is not installed; it provides the demo photos '
                          '(pip install scikit-image)')
    folder = osp.join(list(spec.submodule_search_locations)[0], 'data')
    if not osp.isdir(folder):
        raise FileNotFoundError(f'scikit-image data folder {folder!r} not found')
    return folder


def load_photo(name: str, max_side: Optional[int] = MAX_SIDE) -> np.ndarray:
    """One bundled photo as (H, W, 3) uint8 BGR, its longer side at most ``max_side``."""
    path = osp.join(skimage_data_dir(), name)
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f'cannot read {path!r}')
    h, w = img.shape[:2]
    if max_side and max(h, w) > max_side:
        f = max_side / max(h, w)
        img = cv2.resize(img, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
    return img


def _variant(img: np.ndarray, r: int) -> np.ndarray:
    """Round ``r`` >= 1 of extra images: mirror, crops, mirrored crops (deterministic)."""
    if r % 2 == 1:
        img = img[:, ::-1]
    if r >= 2:
        h, w = img.shape[:2]
        f = 0.9 - 0.1 * ((r // 2 - 1) % 4)  # 0.9, 0.8, 0.7, 0.6
        ch, cw = max(1, round(h * f)), max(1, round(w * f))
        y0 = (h - ch) * ((r // 2) % 3) // 2
        x0 = (w - cw) * ((r // 2 + 1) % 3) // 2
        img = img[y0:y0 + ch, x0:x0 + cw]
    return np.ascontiguousarray(img)


def build_demo_collection(out_dir: str, n_images: Optional[int] = None) -> List[str]:
    """Write the demo collection under ``out_dir`` (see the module docstring).

    Args:
        out_dir (str): Folder to write into (created).
        n_images (int, optional): How many images; default one per photo (11). More than
            that adds mirrored and cropped variants, spread over the class folders.

    Returns:
        list[str]: Paths of the written images relative to ``out_dir``, sorted.
    """
    n = len(PHOTOS) if n_images is None else int(n_images)
    if n < 1:
        raise ValueError(f'n_images must be >= 1, got {n_images}')
    photos = {}
    rel_paths = []
    for idx in range(n):
        p, r = idx % len(PHOTOS), idx // len(PHOTOS)
        name = PHOTOS[p]
        if name not in photos:
            photos[name] = load_photo(name)
        img = photos[name] if r == 0 else _variant(photos[name], r)
        stem = osp.splitext(name)[0]
        rel = f'train/n{p:03d}/{stem}.jpg' if r == 0 else f'train/n{p:03d}/{stem}_{r}.jpg'
        path = osp.join(out_dir, rel)
        os.makedirs(osp.dirname(path), exist_ok=True)
        if not cv2.imwrite(path, img, [cv2.IMWRITE_JPEG_QUALITY, 90]):
            raise OSError(f'cannot write {path!r}')
        rel_paths.append(rel)
    return sorted(rel_paths)
