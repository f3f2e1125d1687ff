"""Write Mini COCO annotation files: a fixed random 5% / 10% of the train2017 images.

Example:
    python tools/dataset_converters/mini_coco.py data/coco/annotations/instances_train2017.json
    # -> data/coco/annotations/instances_train2017_mini-5p.json, ..._mini-10p.json (seed 0)
"""
import argparse

from mmsoco.converters import write_mini_coco


def main(argv=None):
    parser = argparse.ArgumentParser(description='Subset COCO annotations with a fixed seed.')
    parser.add_argument('ann_file', help='COCO annotations, e.g. instances_train2017.json')
    parser.add_argument('--fractions', type=float, nargs='+', default=[0.05, 0.10],
                        help='fractions of the images to keep (default: 0.05 0.10)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the draw (default: 0)')
    parser.add_argument('--out-dir', default=None, help='default: next to ann_file')
    args = parser.parse_args(argv)
    for path in write_mini_coco(args.ann_file, args.fractions, args.seed, args.out_dir):
        print(f'wrote {path}')


if __name__ == '__main__':
    main()
