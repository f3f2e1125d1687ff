"""Labelled detection sets for the study: a fixed train/val split, and a toy set of real photos.

Both write COCO jsons with :mod:`data_prep.annotations` (its readers and COCO writer).

* :func:`fixed_split` / :func:`write_split`: the study's documented split of a labelled set
  (raccoon: 160 train / 40 val): image names sorted, shuffled with a fixed seed, the first
  ``num_val`` go to val.  The same names and seed give the same split on any machine
  (``configs/study/splits/`` holds the raccoon lists it writes).
* :func:`write_toy_set`: the photos bundled with scikit-image that carry hand-placed boxes
  (``data_prep/skimage_boxes.json``), shrunk to a small side, with their mirror images: a real,
  tiny detection set for the CPU test and toy run.  Every box keeps its label.
"""
import json
import os
import os.path as osp
import random
from typing import List, Sequence, Tuple

import cv2
import numpy as np

import data_prep
from data_prep.annotations import DetectionSet, ImageRecord, write_coco
from data_prep.demo_collection import load_photo

#: hand-placed boxes on scikit-image's photos (shipped with data_prep)
SKIMAGE_BOXES = osp.join(osp.dirname(osp.abspath(data_prep.__file__)), 'skimage_boxes.json')


def fixed_split(names: Sequence[str], num_val: int,
                seed: int = 0) -> Tuple[List[str], List[str]]:
    """Split names into (train, val), both sorted; deterministic for given names and seed.

    Raises:
        ValueError: ``num_val`` is not in 1 .. len(names) - 1, or a name repeats.
    """
    names = sorted(names)
    if len(set(names)) != len(names):
        raise ValueError('image names repeat; a split needs unique names')
    if not 0 < num_val < len(names):
        raise ValueError(f'num_val must be in 1..{len(names) - 1} for {len(names)} images, '
                         f'got {num_val}')
    order = list(names)
    random.Random(seed).shuffle(order)
    return sorted(order[num_val:]), sorted(order[:num_val])


def subset(dataset: DetectionSet, names: Sequence[str]) -> DetectionSet:
    """The images of ``dataset`` whose ``file_name`` is in ``names`` (all must be there)."""
    wanted = set(names)
    images = [r for r in dataset.images if r.file_name in wanted]
    missing = wanted - {r.file_name for r in images}
    if missing:
        raise ValueError(f'{len(missing)} split names are not in the set, e.g. '
                         f'{sorted(missing)[:3]}')
    return DetectionSet(dataset.image_root, list(dataset.class_names), images)


def write_split(dataset: DetectionSet, out_dir: str, num_val: int, seed: int = 0,
                val_names: Sequence[str] = None) -> dict:
    """Write ``train.json``/``val.json`` (COCO) and ``train.txt``/``val.txt`` (names).

    Args:
        dataset (DetectionSet): The whole labelled set.
        out_dir (str): Output folder.
        num_val (int): Images in val (ignored when ``val_names`` is given).
        seed (int): Shuffle seed of :func:`fixed_split`.
        val_names (Sequence[str], optional): Use these val images instead of drawing them
            (e.g. a committed split list).

    Returns:
        dict: ``train_json``, ``val_json``, ``img_root``, ``classes``, ``train``, ``val``
        (image counts) and ``skipped`` (images the reader left out).
    """
    names = [r.file_name for r in dataset.images]
    if val_names is None:
        train, val = fixed_split(names, num_val, seed)
    else:
        val = sorted(val_names)
        train = sorted(set(names) - set(val))
    os.makedirs(out_dir, exist_ok=True)
    out = dict(img_root=osp.abspath(dataset.image_root), classes=list(dataset.class_names),
               skipped=len(dataset.skipped))
    for split, split_names in (('train', train), ('val', val)):
        write_coco(subset(dataset, split_names), osp.join(out_dir, f'{split}.json'))
        with open(osp.join(out_dir, f'{split}.txt'), 'w') as f:
            f.writelines(n + '\n' for n in split_names)
        out[f'{split}_json'] = osp.abspath(osp.join(out_dir, f'{split}.json'))
        out[split] = len(split_names)
    return out


def read_names(path: str) -> List[str]:
    """Names from a split list (one per line; blank lines and '#' comments skipped)."""
    with open(path) as f:
        return [s.strip() for s in f if s.strip() and not s.startswith('#')]


def write_toy_set(out_dir: str, max_side: int = 160, num_val: int = 4,
                  mirrored: bool = True, seed: int = 0) -> dict:
    """Write the toy detection set (see the module docstring) and its split.

    Args:
        out_dir (str): ``images/``, ``train.json``, ``val.json``, ``train.txt``, ``val.txt``.
        max_side (int): Longer image side. Defaults to 160.
        num_val (int): Images in val. Defaults to 4.
        mirrored (bool): Add the mirror image of each photo (twice the images).
        seed (int): Split seed.

    Returns:
        dict: As :func:`write_split`.
    """
    with open(SKIMAGE_BOXES) as f:
        photos = json.load(f)['images']
    classes = sorted({b['label'] for boxes in photos.values() for b in boxes})
    img_dir = osp.join(out_dir, 'images')
    os.makedirs(img_dir, exist_ok=True)
    records, dropped = [], 0
    for photo, objects in sorted(photos.items()):
        full = load_photo(photo, max_side=None)
        h, w = full.shape[:2]
        f = max_side / max(h, w)
        img = cv2.resize(full, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
        nh, nw = img.shape[:2]
        scale = np.array([nw / w, nh / h, nw / w, nh / h])
        boxes = np.array([o['box'] for o in objects], dtype=np.float64) * scale
        labels = [classes.index(o['label']) for o in objects]
        stem = osp.splitext(photo)[0]
        variants = [(stem, img, boxes)]
        if mirrored:
            flipped = boxes.copy()
            flipped[:, [0, 2]] = nw - boxes[:, [2, 0]]
            variants.append((stem + '_mirror', np.ascontiguousarray(img[:, ::-1]), flipped))
        for name, pixels, b in variants:
            cv2.imwrite(osp.join(img_dir, name + '.jpg'), pixels, [cv2.IMWRITE_JPEG_QUALITY, 92])
            keep = (b[:, 2] - b[:, 0] >= 1) & (b[:, 3] - b[:, 1] >= 1)
            dropped += int((~keep).sum())
            records.append(ImageRecord(name + '.jpg', nw, nh, b[keep],
                                       np.asarray(labels)[keep]))
    dataset = DetectionSet(img_dir, classes, records)
    if dropped:
        dataset.notes['boxes under 1 px after shrinking, dropped'] = dropped
    out = write_split(dataset, out_dir, num_val, seed)
    out['notes'] = dict(dataset.notes)
    return out
