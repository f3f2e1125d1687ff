"""Labelled detection sets (Pascal VOC XML, YOLO txt, COCO json) as one common record.

Readers turn each format into a :class:`DetectionSet`: the folder the images are under, the
class names, and per image an :class:`ImageRecord` (path, width, height, boxes x1, y1, x2, y2 in
pixels with x2, y2 exclusive, label indices). :func:`write_coco` writes any set as a COCO json
that mmdet's ``CocoDataset`` reads (``data_prefix=dict(img=image_root)``).

    python -m data_prep.annotations voc DIR/Annotations --images DIR/JPEGImages \
        [--split-file DIR/ImageSets/Main/train.txt] --out train.json
    python -m data_prep.annotations yolo DIR/images/train --labels DIR/labels/train \
        [--names data.yaml] --out train.json

Conventions:

- VOC boxes are 1-based inclusive pixel indices (``xmin = 1`` is the first column), so
  ``x1 = xmin - 1, x2 = xmax``; ``--voc-zero-based`` reads them as they are.
- YOLO lines are ``class cx cy w h`` normalised by the image size; a line with more than four
  numbers after the class is a polygon and becomes its bounding box. An image without a label
  file is an image without objects (YOLO's convention), counted in ``DetectionSet.notes``.
- Width and height are those of the image as the loaders decode it (EXIF orientation applied),
  read from the file header. A VOC file whose recorded size disagrees is skipped with its
  reason (boxes drawn on another size cannot be trusted), never silently fixed.
- Anything unusable (missing image, unreadable file, malformed line) is either a one-line
  ``ValueError`` naming the file, or a skip listed in ``DetectionSet.skipped``.

Only the standard library and numpy are imported at module level; image sizes come from
``data_prep.image_io`` (OpenCV), imported when needed. Nothing imports the training stack.
"""
import argparse
import json
import os
import os.path as osp
import re
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from data_prep.collection import IMG_EXTENSIONS, _scan_folder

FORMATS = ('voc', 'yolo', 'coco')


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


# ------------------------------------------------------------------------------ helpers
def _image_size(path: str) -> Optional[Tuple[int, int]]:
    from data_prep.image_io import read_image_size  # OpenCV, only when sizes are needed
    return read_image_size(path)


def _scan_images(folder: str) -> List[str]:
    """Image files under ``folder`` (recursive, sorted, hidden entries skipped), relative."""
    if not osp.isdir(folder):
        raise ValueError(f'{folder}: not a folder of images')
    return sorted(_scan_folder(folder, folder))


def _read_ids(split_file: str) -> List[str]:
    """Ids from a split file (first field per line, VOC ``ImageSets/Main/*.txt`` style)."""
    ids = []
    with open(split_file, encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith('#'):
                ids.append(line.split()[0])
    return ids


def _class_index(names: List[str], name: str, fixed: bool, where: str) -> int:
    if name in names:
        return names.index(name)
    if fixed:
        raise ValueError(f'{where}: class {name!r} is not in the given class names {names}')
    names.append(name)
    return len(names) - 1


def _clip_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.clip(boxes, 0, [width, height, width, height])


# ------------------------------------------------------------------------------ VOC
def _voc_text(node, tag: str, where: str) -> str:
    child = node.find(tag)
    if child is None or child.text is None or not child.text.strip():
        raise ValueError(f'{where}: missing <{tag}>')
    return child.text.strip()


def read_voc(ann_dir: str, image_dir: str, split_file: Optional[str] = None,
             class_names: Optional[Sequence[str]] = None,
             zero_based: bool = False) -> DetectionSet:
    """A Pascal VOC set: one XML file per image.

    Args:
        ann_dir (str): Folder of ``*.xml`` files.
        image_dir (str): Folder the images are in (``<filename>`` of each XML, else the XML's
            stem with an image extension).
        split_file (str, optional): Ids to read (``ImageSets/Main/train.txt``); all XML files
            when None.
        class_names (sequence[str], optional): Fixed class order; a box of another class is an
            error. Default: the names in order of first appearance over the sorted files.
        zero_based (bool): Read coordinates as 0-based (x1 = xmin). Defaults to False
            (VOC's 1-based inclusive indices: x1 = xmin - 1, x2 = xmax).

    Returns:
        DetectionSet: with ``image_root = image_dir``.
    """
    if not osp.isdir(ann_dir):
        raise ValueError(f'{ann_dir}: no such annotation folder')
    if split_file is not None:
        ids = _read_ids(split_file)
        xml_files = [osp.join(ann_dir, i + '.xml') for i in ids]
    else:
        xml_files = sorted(osp.join(ann_dir, n) for n in os.listdir(ann_dir)
                           if n.lower().endswith('.xml') and not n.startswith('.'))
    if not xml_files:
        raise ValueError(f'{ann_dir}: no .xml annotation files')
    fixed = class_names is not None
    names = list(class_names) if fixed else []
    out = DetectionSet(image_dir, names)
    for xml_path in xml_files:
        if not osp.isfile(xml_path):
            out.skipped.append((xml_path, 'listed in the split file but missing'))
            continue
        try:
            root = ET.parse(xml_path).getroot()
        except ET.ParseError as e:
            out.skipped.append((xml_path, f'not valid XML: {e}'))
            continue
        stem = osp.splitext(osp.basename(xml_path))[0]
        fname = root.findtext('filename', default='').strip()
        candidates = ([fname] if fname else []) + [stem + e for e in IMG_EXTENSIONS]
        img_name = next((c for c in candidates if osp.isfile(osp.join(image_dir, c))), None)
        if img_name is None:
            out.skipped.append((xml_path, f'image not found in {image_dir} '
                                          f'(tried {candidates[0]})'))
            continue
        size = _image_size(osp.join(image_dir, img_name))
        if size is None:
            out.skipped.append((osp.join(image_dir, img_name), 'unreadable image'))
            continue
        width, height = size
        rec_w = root.findtext('size/width')
        rec_h = root.findtext('size/height')
        if rec_w and rec_h:
            try:
                rec_w, rec_h = int(float(rec_w)), int(float(rec_h))
            except ValueError as e:
                raise ValueError(f'{xml_path}: bad <size>: {e}') from None
        if rec_w and rec_h and rec_w > 0 and rec_h > 0 and (rec_w, rec_h) != (width, height):
            out.skipped.append((xml_path, f'annotated size {rec_w}x{rec_h} != image size '
                                          f'{width}x{height}'))
            continue
        boxes, labels, ignore = [], [], []
        for obj in root.findall('object'):
            name = _voc_text(obj, 'name', xml_path)
            bnd = obj.find('bndbox')
            if bnd is None:
                raise ValueError(f'{xml_path}: object {name!r} without <bndbox>')
            try:
                x1, y1, x2, y2 = (float(_voc_text(bnd, t, xml_path))
                                  for t in ('xmin', 'ymin', 'xmax', 'ymax'))
            except ValueError as e:
                raise ValueError(f'{xml_path}: bad <bndbox> of {name!r}: {e}') from None
            if not zero_based:
                x1, y1 = x1 - 1, y1 - 1
            if x2 <= x1 or y2 <= y1:
                out.note('empty boxes dropped')
                continue
            boxes.append((x1, y1, x2, y2))
            labels.append(_class_index(names, name, fixed, xml_path))
            ignore.append(obj.findtext('difficult', default='0').strip() == '1')
        out.images.append(ImageRecord(img_name, width, height,
                                      _clip_boxes(boxes, width, height), labels, ignore))
    return out


# ------------------------------------------------------------------------------ YOLO
def read_class_names(path: str) -> List[str]:
    """Class names from a YOLO ``data.yaml`` (``names:`` as a list or an ``id: name`` map) or
    a text file with one name per line (``classes.txt``, ``obj.names``)."""
    with open(path, encoding='utf-8') as f:
        text = f.read()
    if not path.lower().endswith(('.yaml', '.yml')):
        return [line.strip() for line in text.splitlines() if line.strip()]
    try:
        import yaml
        names = yaml.safe_load(text).get('names')
    except ImportError:  # a minimal reader of the ``names:`` block
        names = _names_block(text)
    if isinstance(names, dict):
        ids = sorted(int(k) for k in names)
        if ids != list(range(len(ids))):
            raise ValueError(f'{path}: class ids {ids} are not 0..{len(ids) - 1}')
        return [str(names[k] if k in names else names[str(k)]) for k in ids]
    if isinstance(names, list) and names:
        return [str(n) for n in names]
    raise ValueError(f'{path}: no "names:" list or map of class names')


def _names_block(text: str):
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r'^names:\s*(.*)$', line)
        if not m:
            continue
        rest = m.group(1).strip()
        if rest.startswith('['):
            return [s.strip().strip('\'"') for s in rest.strip('[]').split(',') if s.strip()]
        out_map, out_list = {}, []
        for sub in lines[i + 1:]:
            if sub and not sub[0].isspace() and not sub.startswith('-'):
                break
            s = sub.strip()
            if s.startswith('- '):
                out_list.append(s[2:].strip().strip('\'"'))
            elif ':' in s:
                k, v = s.split(':', 1)
                out_map[int(k)] = v.strip().strip('\'"')
        return out_map or out_list
    return None


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
    files = _scan_images(image_dir)
    if not files:
        raise ValueError(f'{image_dir}: no images')
    out = DetectionSet(image_dir, list(class_names) if class_names is not None else [])
    max_id = -1
    for rel in files:
        path = osp.join(image_dir, rel)
        size = _image_size(path)
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
        out.images.append(ImageRecord(rel, width, height, _clip_boxes(boxes, width, height),
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


# ------------------------------------------------------------------------------ COCO
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
                                      _clip_boxes(boxes, width, height), labels, ignore))
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
    folder = osp.dirname(osp.abspath(out_path))
    os.makedirs(folder, exist_ok=True)
    tmp = out_path + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(data, f)
    os.replace(tmp, out_path)


# ------------------------------------------------------------------------------ discovery
def _first_dir(base: str, names: Sequence[str], depth: int = 2) -> Optional[str]:
    """The first ``base/name`` (or ``base/*/name`` ...) folder that exists."""
    levels = [base]
    for _ in range(depth):
        for b in levels:
            for n in names:
                if osp.isdir(osp.join(b, n)):
                    return osp.join(b, n)
        levels = [osp.join(b, d) for b in levels if osp.isdir(b)
                  for d in sorted(os.listdir(b)) if osp.isdir(osp.join(b, d))]
    return None


def load_dataset(dataset: str, fmt: str, images: Optional[str] = None,
                 annotations: Optional[str] = None, split: Optional[str] = None,
                 class_names: Optional[Sequence[str]] = None) -> DetectionSet:
    """A labelled set from a dataset folder, finding the usual layouts.

    Args:
        dataset (str): The dataset folder (for ``coco``: the json file, or a folder).
        fmt (str): 'voc', 'yolo' or 'coco'.
        images (str, optional): Image folder; found when None: VOC ``JPEGImages``/``images``,
            YOLO ``images[/<split>]`` next to ``labels``; COCO the json's folder.
        annotations (str, optional): VOC XML folder (``Annotations``/``annotations``/
            ``annots``), YOLO label folder (``labels[/<split>]``) or COCO json; found when None.
        split (str, optional): VOC: ``ImageSets/Main/<split>.txt`` (or a path to a list
            file); YOLO: the sub-folder of ``images`` and ``labels``. All images when None.
        class_names (sequence[str], optional): Fixed class names.
    """
    if fmt not in FORMATS:
        raise ValueError(f'format {fmt!r}: choose from {FORMATS}')
    if not osp.exists(dataset):
        raise ValueError(f'{dataset}: no such dataset folder')
    if fmt == 'coco':
        json_path = annotations or dataset
        if osp.isdir(json_path):
            found = sorted(n for n in os.listdir(json_path) if n.endswith('.json'))
            if len(found) != 1:
                raise ValueError(f'{json_path}: give the COCO json (found {found})')
            json_path = osp.join(json_path, found[0])
        return read_coco(json_path, images or osp.dirname(osp.abspath(json_path)))
    if fmt == 'voc':
        ann_dir = annotations or _first_dir(dataset, ('Annotations', 'annotations', 'annots'))
        if ann_dir is None:
            raise ValueError(f'{dataset}: no Annotations/annotations/annots folder; give '
                             '--annotations')
        img_dir = images or _first_dir(osp.dirname(ann_dir), ('JPEGImages', 'images', 'Images'),
                                       depth=1)
        if img_dir is None:
            raise ValueError(f'{dataset}: no JPEGImages/images folder; give --images')
        split_file = None
        if split is not None:
            split_file = split if osp.isfile(split) else osp.join(
                osp.dirname(ann_dir), 'ImageSets', 'Main', split + '.txt')
            if not osp.isfile(split_file):
                raise ValueError(f'split {split!r}: no list file {split_file}')
        return read_voc(ann_dir, img_dir, split_file, class_names)
    # yolo
    label_dir = annotations or _first_dir(dataset, ('labels', ))
    if label_dir is None:
        raise ValueError(f'{dataset}: no labels folder; give --annotations')
    img_dir = images or _first_dir(dataset, ('images', ))
    if img_dir is None:
        raise ValueError(f'{dataset}: no images folder; give --images')
    if class_names is None:
        parents = [dataset, osp.dirname(label_dir), osp.dirname(osp.dirname(label_dir))]
        for cand in [osp.join(p, n) for p in parents
                     for n in ('data.yaml', 'config.yaml', 'classes.txt')]:
            if osp.isfile(cand):
                class_names = read_class_names(cand)
                break
    if split is not None:
        return read_yolo(osp.join(img_dir, split), osp.join(label_dir, split), class_names)
    subs = sorted(d for d in os.listdir(label_dir) if osp.isdir(osp.join(label_dir, d)))
    if images is None and annotations is None and subs:  # every split folder
        out = None
        for s in subs:
            part = read_yolo(osp.join(img_dir, s), osp.join(label_dir, s), class_names)
            out = part if out is None else out.merge(part)
        return out
    return read_yolo(img_dir, label_dir, class_names)


# ------------------------------------------------------------------------------ CLI
def main(argv=None, log: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(prog='python -m data_prep.annotations',
                                     description=__doc__.split('\n\n')[0])
    sub = parser.add_subparsers(dest='format', required=True)
    voc = sub.add_parser('voc', help='a folder of Pascal VOC XML files')
    voc.add_argument('annotations', help='folder of .xml files')
    voc.add_argument('--images', required=True, help='folder of the images')
    voc.add_argument('--split-file', help='ids to read, one per line (ImageSets/Main/x.txt)')
    voc.add_argument('--voc-zero-based', action='store_true',
                     help='coordinates are 0-based (default: VOC 1-based, x1 = xmin - 1)')
    yolo = sub.add_parser('yolo', help='YOLO txt labels, one file per image')
    yolo.add_argument('images', help='folder of the images (one split)')
    yolo.add_argument('--labels', required=True, help='folder of the .txt label files')
    yolo.add_argument('--names', help='data.yaml (names:) or a text file, one name per line')
    for p in (voc, yolo):
        p.add_argument('--classes', nargs='+', help='class names in label order')
        p.add_argument('--out', required=True, help='COCO json to write')
    args = parser.parse_args(argv)
    try:
        if args.format == 'voc':
            ds = read_voc(args.annotations, args.images, args.split_file, args.classes,
                          zero_based=args.voc_zero_based)
        else:
            names = args.classes or (read_class_names(args.names) if args.names else None)
            ds = read_yolo(args.images, args.labels, names)
    except (ValueError, OSError) as e:
        log(f'error: {e}')
        return 2
    write_coco(ds, args.out)
    for path, reason in ds.skipped:
        log(f'skipped {path}: {reason}')
    log(f'{args.out}: {ds.summary()}; image root {osp.abspath(ds.image_root)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
