"""Find a labelled set's annotations and images in the usual folder layouts."""
import os
import os.path as osp
from typing import Optional, Sequence

from .coco import read_coco
from .records import DetectionSet
from .voc import read_voc
from .yolo import read_class_names, read_yolo

FORMATS = ('voc', 'yolo', 'coco')


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
