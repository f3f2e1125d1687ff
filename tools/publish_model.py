"""Prepare a SoCo pretraining checkpoint for release, as OpenMMLab's publish step does.

Keeps the online network (backbone, neck, head, projector, predictor) and ``meta``; drops the
optimizer state, the message hub and the schedulers; the target network only with
``--keep-target``.  Writes ``OUT-<first 8 hex of sha256>.pth``.

    python tools/publish_model.py work_dirs/soco_r50_fpn/epoch_100.pth \
        soco_resnet50-fpn_16xb128-coslr-100e_in1k_20261122.pth
"""
import argparse
import os.path as osp
import sys

from mmsoco.converters.publish import publish_checkpoint


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('in_file', help='Runner checkpoint')
    parser.add_argument('out_file', help='output name; -<sha256[:8]> is added before .pth')
    parser.add_argument('--keep-target', action='store_true',
                        help='keep the target (momentum) network target_net.* too')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.in_file):
        sys.exit(f'publish_model: error: {args.in_file} does not exist')
    try:
        path = publish_checkpoint(args.in_file, args.out_file, keep_target=args.keep_target)
    except ValueError as e:
        sys.exit(f'publish_model: error: {e}')
    print(f'published {path} ({osp.getsize(path) / 2**20:.1f} MiB)')


if __name__ == '__main__':
    main()
