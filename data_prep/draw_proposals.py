"""Draw an image's kept proposals into a PNG, to look at them.

Example::

    python -m data_prep.draw_proposals data/imagenet/proposals_train.npz \\
        --root data/imagenet/train --image n01440764/n01440764_10026.JPEG --out work_dirs/boxes.png

Without ``--image`` the first image of the file is drawn (``--index`` picks another).
"""
import argparse
import colorsys
import os
import os.path as osp
import sys

import cv2
import numpy as np

from data_prep.image_io import ImageError, read_image
from data_prep.storage import ProposalStore


def draw_boxes(img: np.ndarray, boxes: np.ndarray, title: str = '',
               thickness: int = 2) -> np.ndarray:
    """A copy of a BGR image with boxes (n, 4) x1, y1, x2, y2 drawn in distinct colours."""
    canvas = img.copy()
    n = len(boxes)
    for i, (x1, y1, x2, y2) in enumerate(np.asarray(boxes, dtype=np.float64)):
        r, g, b = colorsys.hsv_to_rgb((i * 0.618034) % 1.0, 0.9, 1.0)
        color = (int(b * 255), int(g * 255), int(r * 255))
        cv2.rectangle(canvas, (int(round(x1)), int(round(y1))),
                      (int(round(x2)) - 1, int(round(y2)) - 1), color, thickness)
    if title or n:
        text = title or f'{n} boxes'
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        cv2.rectangle(canvas, (0, 0), (tw + 8, th + base + 8), (0, 0, 0), -1)
        cv2.putText(canvas, text, (4, th + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                    cv2.LINE_AA)
    return canvas


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='python -m data_prep.draw_proposals',
                                     description=__doc__.split('\n')[0])
    parser.add_argument('proposals', help='proposals file (.npz)')
    parser.add_argument('--root', required=True, help='folder the image paths are relative to')
    parser.add_argument('--image', help='relative path of the image (a key of the file)')
    parser.add_argument('--index', type=int, default=0, help='image number when --image is not '
                        'given')
    parser.add_argument('--out', required=True, help='PNG to write')
    parser.add_argument('--max-boxes', type=int, default=0, help='draw at most this many '
                        '(largest first); 0 = all')
    args = parser.parse_args(argv)

    try:
        store = ProposalStore.load(args.proposals)
    except (OSError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    if not len(store):
        print(f'error: {args.proposals} holds no image', file=sys.stderr)
        return 2
    key = args.image if args.image is not None else store.key_at(args.index % len(store))
    if key not in store:
        print(f'error: {key!r} is not in {args.proposals} (keys look like '
              f'{store.key_at(0)!r})', file=sys.stderr)
        return 2
    path = osp.join(args.root, key)
    try:
        img, _ = read_image(path)
    except ImageError as e:
        print(f'error: {path}: {e} (--root must be the folder the paths in {args.proposals} '
              'are relative to)', file=sys.stderr)
        return 2
    boxes = store[key]
    if store.image_size(key) not in ((0, 0), (img.shape[1], img.shape[0])):
        print(f'warning: {key} is {img.shape[1]}x{img.shape[0]} but the boxes were computed for '
              f'{store.image_size(key)}', file=sys.stderr)
    if args.max_boxes and len(boxes) > args.max_boxes:
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        boxes = boxes[np.argsort(-area, kind='stable')[:args.max_boxes]]
    title = f'{key}: {len(boxes)} boxes ({store.level(key)})'
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    if not cv2.imwrite(args.out, draw_boxes(img, boxes, title)):
        print(f'error: cannot write {args.out}', file=sys.stderr)
        return 2
    print(f'wrote {args.out} ({len(boxes)} boxes)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
