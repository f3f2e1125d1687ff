"""COCO json: read a labelled set from one, write any set as one (what mmdet reads)."""
import json
import os.path as osp
from typing import Dict

from data_prep.atomic_write import atomic_write

from .records import DetectionSet, ImageRecord, clip_boxes


def read_coco(json_path: str, image_dir: str) -> DetectionSet:
    """A COCO json (``images``, ``annotations`` with ``bbox`` x, y, w, h, ``categories``).

    Label indices follow the order of ``categories``; crowd boxes are kept with ``ignore``.
    Width and height are taken from the json (as mmdet does); images missing on disk are
    skipped.
    """
    with open(json_path, encoding='utf-8') as f:
        data = json.load(f)
    if not isinstance(data, dict) or not isinstance(data.get('images'), list):
        raise ValueError(f"{json_path}: not a COCO json (no 'images' list)")
    cats = data.get('categories') or []
    cat_index = {c['id']: i for i, c in enumerate(cats)}
    per_image: Dict[int, list] = {}
    for a in data.get('annotations') or []:
        if a.get('category_id') not in cat_index:
            raise ValueError(f"{json_path}: annotation {a.get('id')} has unknown category_id "
                             f"{a.get('category_id')}")
        per_image.setdefault(a['image_id'], []).append(a)
    out = DetectionSet(image_dir, [c['name'] for c in cats])
    for img in data['images']:
        path = osp.join(image_dir, img['file_name'])
        if not osp.isfile(path):
            out.skipped.append((path, 'image listed in the json but missing'))
            continue
        width, height = int(img['width']), int(img['height'])
        boxes, labels, ignore = [], [], []
        for a in per_image.get(img['id'], []):
            x, y, w, h = (float(v) for v in a['bbox'])
            if w <= 0 or h <= 0:
                out.note('empty boxes dropped')
                continue
            boxes.append((x, y, x + w, y + h))
            labels.append(cat_index[a['category_id']])
            ignore.append(bool(a.get('iscrowd', 0) or a.get('ignore', 0)))
        out.images.append(ImageRecord(img['file_name'], width, height,
                                      clip_boxes(boxes, width, height), labels, ignore))
    return out


def to_coco(dataset: DetectionSet) -> dict:
    """COCO json dict of a set: category ids 1..C, image ids 1..N, boxes x, y, w, h; ignored
    boxes get ``ignore: 1`` (mmdet's ``CocoDataset`` skips them, as it does VOC difficult)."""
    images, anns = [], []
    for i, r in enumerate(dataset.images, 1):
        images.append(dict(id=i, file_name=r.file_name, width=int(r.width),
                           height=int(r.height)))
        for b, c, ign in zip(r.boxes, r.labels, r.ignore):
            w, h = float(b[2] - b[0]), float(b[3] - b[1])
            ann = dict(id=len(anns) + 1, image_id=i, category_id=int(c) + 1,
                       bbox=[round(float(b[0]), 3), round(float(b[1]), 3), round(w, 3),
                             round(h, 3)], area=round(w * h, 3), iscrowd=0)
            if ign:
                ann['ignore'] = 1
            anns.append(ann)
    cats = [dict(id=i, name=n) for i, n in enumerate(dataset.class_names, 1)]
    return dict(images=images, annotations=anns, categories=cats)


def write_coco(dataset: DetectionSet, out_path: str) -> None:
    """Write :func:`to_coco` of ``dataset`` to ``out_path`` (atomically)."""
    data = to_coco(dataset)
    with atomic_write(out_path, encoding='utf-8') as f:
        json.dump(data, f)
