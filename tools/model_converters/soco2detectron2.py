"""Convert a SoCo checkpoint into a Detectron2 weights pickle (matching heuristics on).

Example:
    python tools/model_converters/soco2detectron2.py soco_fpn.pth soco_fpn_d2.pkl
    # then in Detectron2: MODEL.WEIGHTS soco_fpn_d2.pkl MODEL.RESNETS.STRIDE_IN_1X1 False
    #   INPUT.FORMAT RGB MODEL.PIXEL_MEAN "[123.675, 116.28, 103.53]"
    #   MODEL.PIXEL_STD "[58.395, 57.12, 57.375]"
"""
import argparse
import os
import os.path as osp
import sys
from collections import Counter

from mmsoco.converters import SoCoCheckpointError, convert_to_detectron2, save_detectron2_pickle
from mmsoco.converters.soco_checkpoint import group_label, key_group
from mmsoco.converters.to_detectron2 import DETECTRON2_CONFIG_HINT


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert a SoCo checkpoint into a Detectron2 .pkl '
        '(dict(model=numpy arrays, __author__, matching_heuristics=True)).')
    parser.add_argument('src', help='SoCo checkpoint saved by the pretraining run')
    parser.add_argument('dst', help='output Detectron2 weights (.pkl)')
    parser.add_argument('--source', choices=('online', 'target'), default='online',
                        help='network to convert (default: online)')
    parser.add_argument('--variant', choices=('fpn', 'c4'), default=None,
                        help='expected SoCo variant (default: detected from the keys)')
    parser.add_argument('--verbose', action='store_true', help='print every key')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.src):
        sys.exit(f'soco2detectron2: error: {args.src} does not exist (expected a SoCo checkpoint '
                 'saved by the pretraining run)')
    try:
        payload, mapped, left_out, variant = convert_to_detectron2(
            args.src, source=args.source, variant=args.variant)
    except SoCoCheckpointError as e:
        where = '' if str(e).startswith(args.src) else f'{args.src}: '
        sys.exit(f'soco2detectron2: error: {where}{e}')
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    save_detectron2_pickle(payload, args.dst)
    print(f'SoCo R50-{variant.upper()} checkpoint, {args.source} network -> Detectron2')
    print(f'mapped {len(mapped)} tensors:')
    if args.verbose:
        for src, dst in mapped:
            print(f'  {src} -> {dst}')
    else:
        for group, n in Counter(key_group(src) for src, _ in mapped).items():
            print(f'  {n:4d}  {group}.*')
    groups = Counter(key_group(k) for k in left_out)
    print(f'left out {len(left_out)} tensors: ' + ', '.join(
        f'{group_label(g, left_out)} ({n})' for g, n in groups.items()))
    print(DETECTRON2_CONFIG_HINT)
    print(f'saved {args.dst}')


if __name__ == '__main__':
    main()
