"""Write Mini COCO annotation files: a fixed random 5% / 10% of the train2017 images.

Example:
    python tools/dataset_converters/mini_coco.py data/coco/annotations/instances_train2017.json
    # -> data/coco/annotations/instances_train2017_mini-5p.json, ..._mini-10p.json (seed 0)
"""
import argparse
import json
import sys

from mmsoco.converters import write_mini_coco


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not a number') from None
    if not 0. < value <= 1.:
        raise argparse.ArgumentTypeError(
            f'{text} is not a fraction in (0, 1]: 5%% of the images is 0.05')
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(description='Subset COCO annotations with a fixed seed.')
    parser.add_argument('ann_file', help='COCO annotations, e.g. instances_train2017.json')
    parser.add_argument('--fractions', type=_fraction, nargs='+', default=[0.05, 0.10],
                        help='fractions of the images to keep (default: 0.05 0.10)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the draw (default: 0)')
    parser.add_argument('--out-dir', default=None, help='default: next to ann_file')
    args = parser.parse_args(argv)
    try:
        paths = write_mini_coco(args.ann_file, args.fractions, args.seed, args.out_dir)
    except OSError as e:
        sys.exit(f'mini_coco: error: {e.filename or args.ann_file}: {e.strerror or e}')
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        sys.exit(f'mini_coco: error: {args.ann_file} is not COCO annotations (a JSON object '
                 f'with images and annotations): {type(e).__name__}: {e}')
    for path in paths:
        print(f'wrote {path}')


if __name__ == '__main__':
    main()
