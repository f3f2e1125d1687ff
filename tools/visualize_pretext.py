"""Save a PNG of what a dense pretext network sees, one random draw per row.

Patch-level rotation: the rotated patches, the angle of every pixel and the target at the
decoder's output stride.  EDMoCo: the two MoCo v2 views.

Examples:
    # a sample of the config's training set
    python tools/visualize_pretext.py \
        configs/dense/plr_resnet50-d16-fcn-d6_8xb32-coslr-20e_voc0712-init.py --index 3
    # any image through the config's pipeline
    python tools/visualize_pretext.py \
        configs/dense/edmoco_resnet50-d16-fcn-d6_8xb32-coslr-20e_voc0712-init.py \
        --image photo.jpg --out work_dirs/edmoco_views.png
"""
import argparse
import os
import os.path as osp
import sys

import cv2
from mmengine.config import Config, DictAction
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

import mmsoco  # noqa: F401  (registers the transforms)
from mmsoco.datasets.pretext_visualization import decoder_stride, render_pretext
from mmsoco.registry import DATASETS

NAME = 'visualize_pretext'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a dense pretext config (configs/dense)')
    parser.add_argument('--image', help='an image file (instead of the training set)')
    parser.add_argument('--index', type=int, default=0, help='sample of the training set')
    parser.add_argument('--num-draws', type=int, default=2, help='rows (random draws)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default=None,
                        help='output PNG (default: work_dirs/<config name>_pretext.png)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    return parser.parse_args(argv)


def sample_and_pipeline(cfg, image, index):
    """``(data_info, pipeline)``: the image or the dataset sample, and the training pipeline."""
    init_default_scope('mmselfsup')
    dataset_cfg = cfg.train_dataloader.dataset
    if image is not None:
        if not osp.isfile(image):
            raise FileNotFoundError(f'--image {image}: no such file')
        return dict(img_path=image, sample_idx=0), Compose(dataset_cfg.pipeline)
    dataset = DATASETS.build(dataset_cfg)
    if not 0 <= index < len(dataset):
        raise ValueError(f'--index {index} is outside the dataset ({len(dataset)} samples)')
    return dataset.get_data_info(index), dataset.pipeline


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.config):
        sys.exit(f'{NAME}: error: {args.config}: no such config')
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    out = args.out or osp.join('work_dirs', osp.splitext(osp.basename(args.config))[0] +
                               '_pretext.png')
    try:   # a missing image, data root or list file: one line, no traceback
        data_info, pipeline = sample_and_pipeline(cfg, args.image, args.index)
        grid = render_pretext(pipeline.transforms, data_info, decoder_stride(cfg.model),
                              args.num_draws, args.seed)
    except (FileNotFoundError, ValueError) as e:
        sys.exit(f'{NAME}: error: ' + ' '.join(str(e).split()))
    os.makedirs(osp.dirname(out) or '.', exist_ok=True)
    if not cv2.imwrite(out, grid):
        sys.exit(f'{NAME}: error: could not write {out}')
    print(f"{out}: {grid.shape[1]}x{grid.shape[0]}, {data_info['img_path']}, "
          f'{args.num_draws} draws')


if __name__ == '__main__':
    main()
