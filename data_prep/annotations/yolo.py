"""YOLO: one ``class cx cy w h`` text file per image, normalised by the image size."""
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import yaml

from data_prep.collection import _scan_folder

from .records import DetectionSet, ImageRecord, clip_boxes, image_size


def scan_images(folder: str) -> List[str]:
    """Image files under ``folder`` (recursive, sorted, hidden entries skipped), relative."""
    if not osp.isdir(folder):
        raise ValueError(f'{folder}: not a folder of images')
    return sorted(_scan_folder(folder, folder))


def read_class_names(path: str) -> List[str]:
    """Class names from a YOLO ``data.yaml`` (``names:`` as a list or an ``id: name`` map) or
    a text file with one name per line (``classes.txt``, ``obj.names``)."""
    with open(path, encoding='utf-8') as f:
        text = f.read()
    if not path.lower().endswith(('.yaml', '.yml')):
        return [line.strip() for line in text.splitlines() if line.strip()]
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ValueError(f'{path}: not valid YAML ({str(e).splitlines()[0]})') from None
    names = data.get('names') if isinstance(data, dict) else None
    if isinstance(names, dict):
        try:
            by_id = {int(k): v for k, v in names.items()}
        except (TypeError, ValueError):
            raise ValueError(f'{path}: class ids {sorted(map(str, names))} are not '
                             'integers') from None
        ids = sorted(by_id)
        if ids != list(range(len(ids))):
            raise ValueError(f'{path}: class ids {ids} are not 0..{len(ids) - 1}')
        return [str(by_id[k]) for k in ids]
    if isinstance(names, list) and names:
        return [str(n) for n in names]
    raise ValueError(f'{path}: no "names:" list or map of class names')


def _yolo_line(parts: List[str], where: str) -> Tuple[int, Tuple[float, float, float, float]]:
    """(class id, normalised x1, y1, x2, y2) of one label line."""
    try:
        cls = int(float(parts[0]))
        nums = [float(p) for p in parts[1:]]
    except ValueError:
        raise ValueError(f'{where}: not numbers: {" ".join(parts)!r}') from None
    if len(nums) == 4:
        cx, cy, w, h = nums
        return cls, (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    if len(nums) >= 6 and len(nums) % 2 == 0:  # polygon: its bounding box
        xs, ys = nums[0::2], nums[1::2]
        return cls, (min(xs), min(ys), max(xs), max(ys))
    raise ValueError(f'{where}: expected "class cx cy w h" (or a polygon), got '
                     f'{len(parts)} fields')


def read_yolo(image_dir: str, label_dir: str,
              class_names: Optional[Sequence[str]] = None) -> DetectionSet:
    """A YOLO set: ``label_dir/<image path without extension>.txt`` per image.

    Args:
        image_dir (str): Folder of images (searched recursively).
        label_dir (str): Folder of label files mirroring ``image_dir``.
        class_names (sequence[str], optional): Names of class ids 0..C-1; default
            ``class_0`` ... up to the largest id seen.

    Returns:
        DetectionSet: with ``image_root = image_dir``.
    """
    if not osp.isdir(label_dir):
        raise ValueError(f'{label_dir}: no such label folder')
    files = scan_images(image_dir)
    if not files:
        raise ValueError(f'{image_dir}: no images')
    out = DetectionSet(image_dir, list(class_names) if class_names is not None else [])
    max_id = -1
    for rel in files:
        path = osp.join(image_dir, rel)
        size = image_size(path)
        if size is None:
            out.skipped.append((path, 'unreadable image'))
            continue
        width, height = size
        txt = osp.join(label_dir, osp.splitext(rel)[0] + '.txt')
        boxes, labels = [], []
        if not osp.isfile(txt):
            out.note('images without label file (no objects)')
        else:
            with open(txt, encoding='utf-8') as f:
                for n, line in enumerate(f, 1):
                    parts = line.split()
                    if not parts:
                        continue
                    cls, (x1, y1, x2, y2) = _yolo_line(parts, f'{txt}:{n}')
                    if cls < 0 or (class_names is not None and cls >= len(class_names)):
                        raise ValueError(f'{txt}:{n}: class id {cls} outside 0..'
                                         f'{len(class_names) - 1 if class_names else "?"}')
                    if x2 <= x1 or y2 <= y1:
                        out.note('empty boxes dropped')
                        continue
                    boxes.append((x1 * width, y1 * height, x2 * width, y2 * height))
                    labels.append(cls)
                    max_id = max(max_id, cls)
        out.images.append(ImageRecord(rel, width, height, clip_boxes(boxes, width, height),
                                      labels))
    stems = {osp.splitext(rel)[0] for rel in files}
    for dirpath, _, names in os.walk(label_dir, followlinks=True):
        for name in sorted(names):
            rel = osp.relpath(osp.join(dirpath, name), label_dir).replace(os.sep, '/')
            if name.endswith('.txt') and osp.splitext(rel)[0] not in stems:
                out.skipped.append((osp.join(label_dir, rel), 'label file without image'))
    if class_names is None:
        out.class_names = [f'class_{i}' for i in range(max_id + 1)]
    return out
