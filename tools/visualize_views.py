"""Save a PNG grid of one sample's SoCo views, each proposal drawn in its own colour.

Each row is a fresh random draw: the image with its selected proposals (K per pair of views),
then V1, V2, V3 (V4).
A box must stay on its object in every view of a row.

Examples:
    # the training dataset of a config
    python tools/visualize_views.py configs/soco/CONFIG.py --index 3 --num-draws 4 \
        --out work_dirs/views.png
    # an image folder and its proposals file, with the default recipe
    python tools/visualize_views.py --data-root data/demo --img-prefix '' \
        --proposals data/demo/proposals.npz --num-views 4 --out work_dirs/views.png
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

import mmsoco  # noqa: F401  (registers the transforms and the dataset)
from mmsoco.datasets import soco_train_pipeline
from mmsoco.datasets.visualization import save_sample_views
from mmsoco.registry import DATASETS


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', nargs='?', help='config whose train_dataloader.dataset is used')
    parser.add_argument('--data-root', help='image collection (without a config)')
    parser.add_argument('--proposals', help='proposals file (without a config)')
    parser.add_argument('--ann-file', default='', help='list file or COCO json (optional)')
    parser.add_argument('--img-prefix', default='train/', help="image folder under data-root")
    parser.add_argument('--num-views', type=int, default=3, choices=(3, 4))
    parser.add_argument('--index', type=int, default=0, help='sample index')
    parser.add_argument('--num-draws', type=int, default=3, help='rows (random draws)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default='work_dirs/views.png',
                        help='output PNG (its folder is created)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    args = parser.parse_args()
    if not args.config and not (args.data_root and args.proposals):
        parser.error('give a config, or --data-root and --proposals')
    return args


def build_dataset(args):
    init_default_scope('mmselfsup')
    if args.config:
        cfg = Config.fromfile(args.config)
        cfg.merge_from_dict(args.cfg_options)
        dataset_cfg = cfg.train_dataloader.dataset
    else:
        dataset_cfg = dict(
            type='SoCoDataset', data_root=args.data_root, proposals_file=args.proposals,
            ann_file=args.ann_file, data_prefix=dict(img_path=args.img_prefix),
            pipeline=soco_train_pipeline(num_views=args.num_views))
    dataset = DATASETS.build(dataset_cfg)
    while not hasattr(dataset, 'pipeline'):  # ConcatDataset / RepeatDataset wrappers
        dataset = dataset.datasets[0] if hasattr(dataset, 'datasets') else dataset.dataset
    return dataset


def main():
    args = parse_args()
    try:   # a missing config, data root, image folder or proposals file: one line, no traceback
        dataset = build_dataset(args)
    except (FileNotFoundError, ValueError) as e:
        sys.exit('visualize_views: error: ' + ' '.join(str(e).split()))
    if not 0 <= args.index < len(dataset):
        sys.exit(f'visualize_views: error: --index {args.index} is outside the dataset '
                 f'({len(dataset)} samples)')
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    grid = save_sample_views(dataset, args.out, args.index, args.num_draws, args.seed)
    print(f'{args.out}: {grid.shape[1]}x{grid.shape[0]}, sample {args.index} '
          f"({dataset.get_data_info(args.index)['img_path']}), {args.num_draws} draws")


if __name__ == '__main__':
    main()
