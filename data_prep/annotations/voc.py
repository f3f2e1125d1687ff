"""Pascal VOC: one XML file per image, 1-based inclusive pixel indices."""
import os
import os.path as osp
import xml.etree.ElementTree as ET
from typing import List, Optional, Sequence

from data_prep.collection import IMG_EXTENSIONS

from .records import DetectionSet, ImageRecord, clip_boxes, image_size


def read_ids(split_file: str) -> List[str]:
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
        ids = read_ids(split_file)
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
        size = image_size(osp.join(image_dir, img_name))
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
                                      clip_boxes(boxes, width, height), labels, ignore))
    return out
