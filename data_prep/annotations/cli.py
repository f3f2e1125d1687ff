"""``python -m data_prep.annotations {voc,yolo} ... --out train.json``: a set as COCO json."""
import argparse
import os.path as osp
from typing import Callable

from .coco import write_coco
from .voc import read_voc
from .yolo import read_class_names, read_yolo


def main(argv=None, log: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(
        prog='python -m data_prep.annotations',
        description='A labelled detection set (Pascal VOC XML or YOLO txt) as a COCO json that '
                    'mmdet reads.')
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
