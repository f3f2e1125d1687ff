"""Convert a checkpoint of the original SoCo release into an mmsoco SoCo checkpoint.

The result loads into the model of an mmsoco pretraining config (checked strictly here), goes on
to MMDetection / Detectron2 with ``soco2mmdet.py`` / ``soco2detectron2.py``, and can start a
pretraining run (``--cfg-options load_from=...``).

Examples:
    # SoCo R50-FPN 100 epochs (the release's pretrain/SoCo_FPN_100ep/ckpt_epoch_100.pth)
    python tools/model_converters/original2soco.py ckpt_epoch_100.pth soco_r50-fpn_100e_in1k.pth
    # the momentum (target) network instead of the online one
    python tools/model_converters/original2soco.py ckpt_epoch_400.pth out.pth --source target
    # check against another config (e.g. SoCo*, whose weights have the FPN layout)
    python tools/model_converters/original2soco.py ckpt_epoch_400.pth soco-star.pth \
        --config configs/soco/soco-star_resnet50-fpn_16xb128-coslr-400e_in1k.py
    # then, for MMDetection:
    python tools/model_converters/soco2mmdet.py soco_r50-fpn_100e_in1k.pth soco_mmdet-rcnn.pth
"""
import argparse
import os
import os.path as osp
import sys

from mmsoco.converters import SoCoCheckpointError
from mmsoco.converters.builder import ConfigHostError
from mmsoco.converters.from_original import (ORIGINAL_SOURCES, build_soco_model,
                                             convert_original_checkpoint, default_config,
                                             load_into_model, save_soco_checkpoint)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert an original SoCo checkpoint (model: module.encoder/neck/head/'
        'projector/predictor and the *_k target network) into mmsoco\'s SoCo layout.')
    parser.add_argument('src', help="the authors' checkpoint (ckpt_epoch_*.pth)")
    parser.add_argument('dst', help='output mmsoco SoCo checkpoint (.pth)')
    parser.add_argument('--source', choices=ORIGINAL_SOURCES, default='online',
                        help="network that becomes mmsoco's online network: online (default), "
                        "target (momentum network, *_k) or ema (model_ema, where present)")
    parser.add_argument('--config', default=None,
                        help='pretraining config whose model must take the weights strictly '
                        '(default: the 100-epoch R50-FPN or R50-C4 original-recipe config, by '
                        'the variant found)')
    parser.add_argument('--verbose', action='store_true', help='print every key')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        conv = convert_original_checkpoint(args.src, source=args.source)
        config = args.config or default_config(conv.variant)
        load_into_model(conv, build_soco_model(config))
    except (SoCoCheckpointError, ConfigHostError, FileNotFoundError) as e:
        sys.exit(f'original2soco: error: {e}')
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    save_soco_checkpoint(conv, args.dst, meta=dict(original_checkpoint=args.src, config=config))
    print(conv.summary(verbose=args.verbose))
    print(f'loads strictly into the model of {config}')
    print(f'saved {args.dst}')


if __name__ == '__main__':
    main()
