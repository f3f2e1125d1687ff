"""Convert a SoCo checkpoint into an MMDetection 3.x checkpoint.

Examples:
    # Mask R-CNN / Faster R-CNN R50-FPN (4conv1fc box head): backbone, FPN P2-P5, box head
    python tools/model_converters/soco2mmdet.py soco_fpn.pth soco_fpn_mmdet-rcnn.pth
    # RetinaNet / FCOS (P3-P7): backbone and SoCo's P3-P5 convs, shifted to start_level=1
    python tools/model_converters/soco2mmdet.py soco_fpn.pth soco_fpn_mmdet-retinanet.pth \
        --det retinanet
    # R50-C4: backbone res2-res4 and res5 as the shared head
    python tools/model_converters/soco2mmdet.py soco_c4.pth soco_c4_mmdet.pth --variant c4
    # read the layout from a transfer config and check the result against the detector it builds
    python tools/model_converters/soco2mmdet.py soco_fpn.pth out.pth \
        --config configs/transfer/fcos_r50_fpn_gn-head_soco-100e_1x_coco.py
    # a Detectron2 pickle of SoCo weights: the SoCo release's current_detectron2_Head.pkl /
    # current_detectron2_C4.pkl, or one written by soco2detectron2.py (read without running code)
    python tools/model_converters/soco2mmdet.py current_detectron2_Head.pkl soco_fpn_mmdet-rcnn.pth
"""
import argparse
import os
import os.path as osp
import sys

from mmsoco.converters import (DETECTORS, SoCoCheckpointError, convert_soco_checkpoint,
                               load_detectron2_pickle)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert a SoCo checkpoint (mmsoco pretraining) into an MMDetection '
        'checkpoint: backbone -> backbone.*, FPN -> neck.*, R-CNN head -> '
        'roi_head.bbox_head.shared_*, res5 -> roi_head.shared_head.* (C4).')
    parser.add_argument('src', help='SoCo checkpoint saved by the pretraining run (or converted '
                        'by original2soco.py), or a Detectron2 .pkl of SoCo weights')
    parser.add_argument('dst', help='output MMDetection checkpoint (.pth)')
    parser.add_argument('--source', choices=('online', 'target'), default='online',
                        help='network to convert (default: online; target = momentum network)')
    parser.add_argument('--variant', choices=('fpn', 'c4'), default=None,
                        help='expected SoCo variant; an error if the checkpoint is the other '
                        '(default: detected from the keys)')
    parser.add_argument('--det', choices=DETECTORS, default=None,
                        help='detector family: rcnn (default; FPN P2-P6 + 4conv1fc head, or C4), '
                        'retinanet/fcos (FPN P3-P7: SoCo FPN levels 1..3 -> mmdet 0..2)')
    parser.add_argument('--config', default=None,
                        help='transfer config: read the layout from it and check that every '
                        'converted tensor loads into the detector it builds')
    parser.add_argument('--verbose', action='store_true', help='print every key, not groups')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.src):
        sys.exit(f'soco2mmdet: error: {args.src} does not exist (expected a SoCo checkpoint .pth '
                 'or a Detectron2 .pkl of SoCo weights)')
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    try:
        src = load_detectron2_pickle(args.src, args.variant) if args.src.endswith('.pkl') \
            else args.src
        conv = convert_soco_checkpoint(src, args.dst, source=args.source,
                                       variant=args.variant, det=args.det, config=args.config)
    except SoCoCheckpointError as e:
        where = '' if str(e).startswith(args.src) else f'{args.src}: '
        sys.exit(f'soco2mmdet: error: {where}{e}')
    print(conv.summary(verbose=args.verbose))
    print(f'saved {args.dst}')


if __name__ == '__main__':
    main()
