"""Convert a SoCo checkpoint into an MMSegmentation 1.x checkpoint.

Examples:
    # FCN, PSPNet, DeepLabV3+, Non-local: the ResNet backbone (plain stem, mmseg type 'ResNet')
    python tools/model_converters/soco2mmseg.py soco_fpn.pth soco_r50_mmseg.pth
    # Semantic FPN: backbone and SoCo's pretrained FPN P2-P5
    python tools/model_converters/soco2mmseg.py soco_fpn.pth soco_r50-fpn_mmseg.pth --with-neck
    # check the result against the segmentor a config builds (the config decides --with-neck)
    python tools/model_converters/soco2mmseg.py soco_fpn.pth soco_r50-fpn_mmseg.pth \
        --config configs/segmentation/fpn_r50_soco-100e_4xb4-20k_voc12aug-512x512.py
    # the authors' released checkpoints: first original2soco.py, then this converter
    # a dense pretext checkpoint (PLR, EDMoCo): backbone AND decode head, for the config with the
    # same decoder (PLR's 4-angle classifier is left out; another decode head is refused)
    python tools/model_converters/soco2mmseg.py plr_epoch_20.pth plr_mmseg.pth \
        --config configs/segmentation/fcn-d6_r50-d16_soco-100e_4xb4-coslr-30k_voc12aug-513x513.py
"""
import argparse
import os.path as osp
import pickle
import sys

from mmsoco.converters import SoCoCheckpointError, load_detectron2_pickle
from mmsoco.converters.to_mmseg import convert_soco_checkpoint

EXPECTED = ('expected a SoCo checkpoint (.pth) saved by mmsoco pretraining or converted by '
            'original2soco.py')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert a SoCo checkpoint (mmsoco pretraining) into an MMSegmentation '
        'checkpoint: backbone -> backbone.* (mmseg ResNet, plain stem), with --with-neck also '
        'FPN -> neck.* (Semantic FPN).')
    parser.add_argument('src', help='SoCo checkpoint saved by the pretraining run (or converted '
                        'by original2soco.py), or a Detectron2 .pkl of SoCo weights')
    parser.add_argument('dst', help='output MMSegmentation checkpoint (.pth)')
    parser.add_argument('--source', choices=('online', 'target'), default='online',
                        help='network to convert (default: online; target = momentum network)')
    parser.add_argument('--with-neck', action='store_true', default=None,
                        help="also write SoCo's FPN P2-P5 as neck.* (Semantic FPN)")
    parser.add_argument('--config', default=None,
                        help='segmentation config: check that every backbone (and FPN) tensor '
                        'of the segmentor it builds comes from the checkpoint, same shapes')
    parser.add_argument('--verbose', action='store_true', help='print every key, not groups')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    for what, path in (('checkpoint', args.src), ('config', args.config)):
        if path is not None and not osp.isfile(path):
            sys.exit(f'soco2mmseg: error: {path}: no such file; '
                     + (EXPECTED if what == 'checkpoint' else 'expected an MMSegmentation '
                        'config, e.g. one in configs/segmentation'))
    try:
        src = load_detectron2_pickle(args.src) if args.src.endswith('.pkl') else args.src
        conv = convert_soco_checkpoint(src, args.dst, source=args.source,
                                       with_neck=args.with_neck, config=args.config)
    except SoCoCheckpointError as e:   # its message names the file
        msg = str(e) if str(e).startswith(args.src) else f'{args.src}: {e}'
        sys.exit(f'soco2mmseg: error: {msg}')
    except pickle.UnpicklingError:  # garbage, or a pickle with objects besides tensors
        sys.exit(f'soco2mmseg: error: {args.src}: not a readable torch checkpoint of tensors '
                 f'(weights-only loading refused it); {EXPECTED}')
    print(conv.summary(verbose=args.verbose))
    print(f'saved {args.dst}')


if __name__ == '__main__':
    main()
