"""Labelled detection sets (Pascal VOC XML, YOLO txt, COCO json) as one common record.

Readers turn each format into a :class:`DetectionSet`: the folder the images are under, the
class names, and per image an :class:`ImageRecord` (path, width, height, boxes x1, y1, x2, y2 in
pixels with x2, y2 exclusive, label indices). :func:`write_coco` writes any set as a COCO json
that mmdet's ``CocoDataset`` reads (``data_prefix=dict(img=image_root)``).

One file each: ``records`` (the data model), ``voc``, ``yolo``, ``coco`` (read and write),
``discovery`` (the usual folder layouts, :func:`load_dataset`) and ``cli``::

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

Only the standard library, numpy and PyYAML are imported at module level; image sizes come from
``data_prep.image_io`` (OpenCV), imported when needed. Nothing imports the training stack.
"""
from .cli import main
from .coco import read_coco, to_coco, write_coco
from .discovery import FORMATS, load_dataset
from .records import DetectionSet, ImageRecord
from .voc import read_voc
from .yolo import read_class_names, read_yolo

__all__ = ['DetectionSet', 'ImageRecord', 'FORMATS', 'load_dataset', 'main', 'read_class_names',
           'read_coco', 'read_voc', 'read_yolo', 'to_coco', 'write_coco']
