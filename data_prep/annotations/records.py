"""The common record of a labelled detection set, whatever format it came from."""
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np


@dataclass
class ImageRecord:
    """One labelled image.

    Args:
        file_name (str): Path relative to the set's ``image_root``, ``/``-separated.
        width (int): Width of the decoded (upright) image in pixels.
        height (int): Height of the decoded image in pixels.
        boxes (np.ndarray): float64 (n, 4) x1, y1, x2, y2 in pixels (x2, y2 exclusive).
        labels (np.ndarray): int64 (n,) indices into the set's ``class_names``.
        ignore (np.ndarray): bool (n,) boxes marked difficult (VOC) or crowd (COCO).
    """

    file_name: str
    width: int
    height: int
    boxes: np.ndarray
    labels: np.ndarray
    ignore: np.ndarray = None

    def __post_init__(self):
        self.boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        if self.ignore is None:
            self.ignore = np.zeros(len(self.boxes), dtype=bool)
        self.ignore = np.asarray(self.ignore, dtype=bool).reshape(-1)
        if not len(self.boxes) == len(self.labels) == len(self.ignore):
            raise ValueError(f'{self.file_name}: {len(self.boxes)} boxes, {len(self.labels)} '
                             f'labels, {len(self.ignore)} ignore flags')


@dataclass
class DetectionSet:
    """Images with their boxes, whatever format they came from.

    Args:
        image_root (str): Folder the records' ``file_name`` are relative to.
        class_names (list[str]): Label index -> class name.
        images (list[ImageRecord]): The usable images, in a deterministic order.
        skipped (list[tuple[str, str]]): (file, reason) of everything left out.
        notes (dict[str, int]): Counts of tolerated oddities (e.g. images without label file).
    """

    image_root: str
    class_names: List[str]
    images: List[ImageRecord] = field(default_factory=list)
    skipped: List[Tuple[str, str]] = field(default_factory=list)
    notes: Dict[str, int] = field(default_factory=dict)

    def path(self, record: ImageRecord) -> str:
        """Full path of a record's image."""
        return osp.join(self.image_root, record.file_name)

    @property
    def num_boxes(self) -> int:
        return int(sum(len(r.boxes) for r in self.images))

    def note(self, key: str) -> None:
        self.notes[key] = self.notes.get(key, 0) + 1

    def summary(self) -> str:
        s = (f'{len(self.images)} images, {self.num_boxes} boxes, {len(self.class_names)} '
             f'classes, {len(self.skipped)} skipped')
        if self.notes:
            s += '; ' + ', '.join(f'{k}: {v}' for k, v in sorted(self.notes.items()))
        return s

    def merge(self, other: 'DetectionSet') -> 'DetectionSet':
        """This set followed by ``other`` (same class names; root = common folder)."""
        if other.class_names != self.class_names:
            raise ValueError('cannot merge sets with different class names')
        root = osp.commonpath([osp.abspath(self.image_root), osp.abspath(other.image_root)])
        images = []
        for s in (self, other):
            rel = osp.relpath(osp.abspath(s.image_root), root).replace(os.sep, '/')
            for r in s.images:
                name = r.file_name if rel == '.' else f'{rel}/{r.file_name}'
                images.append(ImageRecord(name, r.width, r.height, r.boxes, r.labels, r.ignore))
        notes = dict(self.notes)
        for k, v in other.notes.items():
            notes[k] = notes.get(k, 0) + v
        return DetectionSet(root, list(self.class_names), images,
                            self.skipped + other.skipped, notes)


# helpers the readers share
def image_size(path: str) -> Optional[Tuple[int, int]]:
    """(width, height) of the decoded image, or None when it cannot be read."""
    from data_prep.image_io import read_image_size  # OpenCV, only when sizes are needed
    return read_image_size(path)


def clip_boxes(boxes, width: int, height: int) -> np.ndarray:
    """float64 (n, 4) boxes clipped to the image."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.clip(boxes, 0, [width, height, width, height])
