"""Save a PNG of two views of one image with their geometrically matched cells (PLMoCo).

The views are drawn by the config's GeometricMultiView (crops, flips and colour augmentations as
training draws them); each row is a fresh draw.  A coloured dot in the query view must land on
the same content in the key view, inside the outlined key cell that is its positive; greyed query
cells have no match and are left out of the loss.

Examples:
    python tools/visualize_patch_matching.py --image demo.jpg --num-draws 3 \
        --out work_dirs/patch_matching.png
    python tools/visualize_patch_matching.py --config configs/dense/CONFIG.py --image demo.jpg
"""
import argparse
import os
import os.path as osp

import cv2
import numpy as np
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmsoco  # noqa: F401  (registers the transforms)
from mmsoco.datasets.match_visualization import draw_cell_matches
from mmsoco.registry import TRANSFORMS
from mmsoco.utils.package_files import config_path

DEFAULT_CONFIG = config_path('_base_/datasets/imagenet_plmoco.py')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--image', help='an image file (default: a photo shipped with '
                        'scikit-image)')
    parser.add_argument('--config', default=DEFAULT_CONFIG,
                        help='config whose train pipeline holds GeometricMultiView')
    parser.add_argument('--stride', type=int, default=16, help='output stride of the dense map')
    parser.add_argument('--num-draws', type=int, default=2, help='rows (random draws)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default='work_dirs/patch_matching.png', help='output PNG')
    return parser.parse_args()


def load_image(path):
    if path is None:
        from skimage import data
        return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    img = cv2.imread(path)
    if img is None:
        raise SystemExit(f'visualize_patch_matching: cannot read image {path!r}')
    return img


def main():
    args = parse_args()
    init_default_scope('mmselfsup')
    pipeline = Config.fromfile(args.config).train_dataloader.dataset.pipeline
    found = [t for t in pipeline if t['type'] == 'GeometricMultiView']
    if not found:
        raise SystemExit(f'visualize_patch_matching: {args.config} has no GeometricMultiView in '
                         'its train pipeline')
    views = TRANSFORMS.build(found[0])
    img = load_image(args.image)
    np.random.seed(args.seed)
    rows = []
    for _ in range(args.num_draws):
        results = views(dict(img=img.copy()))
        rows.append(draw_cell_matches(results['img'][:2], results['view_matrices'][:2],
                                      args.stride, results['view_flips'][:2]))
    width = max(r.shape[1] for r in rows)
    grid = np.concatenate([np.pad(r, ((0, 8), (0, width - r.shape[1]), (0, 0)),
                                  constant_values=255) for r in rows])
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    if not cv2.imwrite(args.out, grid):
        raise SystemExit(f'visualize_patch_matching: could not write {args.out}')
    print(f'wrote {args.out} ({args.num_draws} draws)')


if __name__ == '__main__':
    main()
