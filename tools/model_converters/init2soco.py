"""Turn an existing ResNet into the starting checkpoint of a pretraining run (continued
pretraining): SoCo, or any mmsoco algorithm's config (patch-level rotation, EDMoCo).

Understood sources: a torchvision ResNet state_dict, an mmselfsup 1.x / mmpretrain
self-supervised checkpoint (MoCo v2, BYOL, DenseCL, ...), an mmsoco SoCo checkpoint, a checkpoint
of the original SoCo release.  Every tensor of the result fits the model of ``--config`` (checked
here); the modules the source lacks (the FPN, R-CNN head, projector and predictor of a backbone;
the new decoder of a dense pretext model) are not in the file: they start freshly initialised,
and ``load_from`` lists their tensors as missing keys.  The momentum network (SoCo's target,
EDMoCo's key encoder) starts as a copy of the online one.  See docs/continued_pretraining.md and
docs/dense_pretext.md.

Examples:
    # torchvision's supervised ResNet-50, for the 20-epoch continued R50-FPN config
    python tools/model_converters/init2soco.py resnet50-11ad3fa6.pth init_r50-fpn.pth \
        --config configs/soco/soco_resnet50-fpn_8xb32-coslr-20e_folder-init.py
    # an mmselfsup MoCo v2 checkpoint, for the C4 variant (layer4 becomes the res5 RoI head)
    python tools/model_converters/init2soco.py mocov2_epoch_200.pth init_r50-c4.pth \
        --config configs/soco/soco_resnet50-c4_8xb32-coslr-20e_folder-init.py
    # patch-level rotation with MoCoFCN, from an mmselfsup MoCo v2 checkpoint
    python tools/model_converters/init2soco.py mocov2_epoch_200.pth plr_init.pth \
        --config configs/dense/plr_resnet50-d16-fcn-d6_8xb32-coslr-20e_voc0712-init.py
    # then
    python tools/train.py configs/soco/soco_resnet50-fpn_8xb32-coslr-20e_folder-init.py \
        --cfg-options load_from=init_r50-fpn.pth
"""
import argparse
import sys

from mmsoco.converters.builder import ConfigHostError
from mmsoco.converters.init_checkpoint import InitCheckpointError, convert_init_checkpoint


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert a torchvision ResNet, an mmselfsup/mmpretrain self-supervised '
        'checkpoint, an mmsoco or an original SoCo checkpoint into the start of a pretraining '
        'run (SoCo, patch-level rotation, EDMoCo).')
    parser.add_argument('src', help='the existing model (.pth)')
    parser.add_argument('dst', help='output checkpoint for load_from (.pth)')
    parser.add_argument('--config', required=True,
                        help='the pretraining config the run uses (configs/soco, configs/dense); '
                        'its model must take every converted tensor')
    parser.add_argument('--verbose', action='store_true', help='print every key, not groups')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        conv = convert_init_checkpoint(args.src, args.config, args.dst)
    except (InitCheckpointError, ConfigHostError, FileNotFoundError) as e:
        sys.exit(f'init2soco: error: {e}')
    print(conv.summary(verbose=args.verbose))
    if conv.new:   # what mmengine's (non-strict) load_from will list as missing, and why
        start = conv.start   # the momentum copies of what is new are not in the file either
        targets = [m for m in conv.new if not (m + '.').startswith(start.online_only)
                   and m not in ('queue', 'queue_ptr')]
        copies = (f' (and the {start.copy_name} copies of {", ".join(targets)})'
                  if start.copies and targets else '')
        print(f'fits the model of {args.config}: every tensor of the file has its name and '
              f'shape there; not in the file: {", ".join(conv.new)}{copies}, which start '
              "freshly initialised: load_from lists their tensors as 'missing keys in source "
              "state_dict'")
    else:
        print(f'loads strictly into the model of {args.config}')
    print(f'saved {args.dst}')


if __name__ == '__main__':
    main()
