"""Compute SoCo's object proposals for an image collection into one file.

Examples::

    # ImageNet-1k train (class folders), all cores
    python -m data_prep.generate_proposals data/imagenet/train \\
        --out data/imagenet/proposals_train.npz --workers 16

    # a list file of relative paths (ImageNet meta/train.txt), images under --root
    python -m data_prep.generate_proposals data/imagenet/meta/train.txt \\
        --root data/imagenet/train --out data/imagenet/proposals_train.npz

    # COCO train2017 + unlabeled2017 folders, one file each
    python -m data_prep.generate_proposals data/coco/train2017 \\
        --out data/coco/proposals_train2017.npz

    # several machines (a Slurm array, see docs/proposals.md): part I of N each, then merge
    python -m data_prep.generate_proposals data/imagenet/train \\
        --out data/imagenet/proposals_train.npz --part 3/8
    python -m data_prep.generate_proposals data/imagenet/train \\
        --out data/imagenet/proposals_train.npz --merge

Killed or interrupted? Run the same command again: finished shards are kept. The failures
report (``<out>.report.json`` without ``.npz``) lists images that could not be read, images
left without boxes, fallbacks and conversions.

Also: ``--import-soco-json FILE`` converts an original SoCo proposals JSON, and
``--export-soco-json FILE`` writes a proposals file in that layout.
"""
import argparse
import os
import sys

from data_prep.filters import BoxFilter
from data_prep.selective_search import (COLOR_SPACES, DEFAULT_COLOR_SPACES, DEFAULT_K,
                                        DEFAULT_SCALE, DEFAULT_STRATEGY, STRATEGIES,
                                        SelectiveSearch)


def _part(text: str):
    """``I/N`` -> (I, N), 0 <= I < N."""
    try:
        i, n = (int(v) for v in text.split('/'))
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected I/N (e.g. 0/8), got {text!r}') from None
    if not 0 <= i < n:
        raise argparse.ArgumentTypeError(f'{text}: expected 0 <= I < N')
    return i, n


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m data_prep.generate_proposals',
        description='Selective-search object proposals for an image collection, filtered as in '
        'SoCo, stored in one memory-mappable file keyed by relative image path.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument(
        'source', nargs='?',
        help='image folder (flat, class folders, COCO train2017/...), list file of relative '
        'paths (first field per line) or COCO json (images[].file_name)')
    parser.add_argument('--out', required=True, help='output proposals file (.npz)')
    parser.add_argument('--root', help='folder the image paths are relative to (default: the '
                        'folder itself, or the folder holding the list/json file)')
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1,
                        help='worker processes (0: compute in this process, for debugging)')
    parser.add_argument('--scale', type=int, default=DEFAULT_SCALE,
                        help='longer side (px) of the copy segmentation runs on; smaller '
                        'images are not enlarged; 0 = full size')
    parser.add_argument('--strategy', default=DEFAULT_STRATEGY,
                        help=f'similarities combined into one grouping strategy: "all" or '
                        f'"+"-joined names from {"/".join(STRATEGIES)}')
    parser.add_argument('--color-space', nargs='+', default=list(DEFAULT_COLOR_SPACES),
                        choices=sorted(COLOR_SPACES),
                        help='colour space(s) to group in; each adds a pass')
    parser.add_argument('--sigma', type=float, default=0.9, help='Felzenszwalb sigma')
    parser.add_argument('--k', type=float, nargs='+', default=list(DEFAULT_K),
                        help='Felzenszwalb k (threshold); several values add segmentations')
    parser.add_argument('--min-size', type=int, default=100, help='Felzenszwalb min segment size')
    parser.add_argument('--min-side', type=float, default=32.0, help='filter: min box w and h')
    parser.add_argument('--ratio', type=float, nargs=2, default=[1 / 3, 3.0],
                        metavar=('MIN', 'MAX'), help='filter: box w/h range')
    parser.add_argument('--box-scale', type=float, nargs=2, default=[0.3, 0.8],
                        metavar=('MIN', 'MAX'), help='filter: sqrt(wh)/sqrt(WH) range')
    parser.add_argument('--shard-size', type=int, default=1000,
                        help='images per shard (the unit of resuming)')
    parser.add_argument('--overwrite', action='store_true',
                        help='discard an existing output and unfinished shards')
    parser.add_argument('--keep-parts', action='store_true', help='keep the shards after merging')
    parser.add_argument('--part', type=_part, metavar='I/N',
                        help='compute only part I of N (0 <= I < N) of the collection into the '
                        'shared <out>.parts folder, for one task of a job array; then --merge')
    parser.add_argument('--merge', action='store_true',
                        help='compute nothing: merge the finished parts into --out (an error '
                        'names the missing shards if a part is not done)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    parser.add_argument('--import-soco-json', metavar='JSON',
                        help='convert an original SoCo proposals JSON (name -> [[x, y, w, h], '
                        '...]) into --out instead of computing; needs --root, the image folder '
                        'used to match names and read image sizes')
    parser.add_argument('--export-soco-json', metavar='JSON',
                        help='write the proposals file --out as an original SoCo JSON and exit')
    args = parser.parse_args(argv)
    if args.source is None and not (args.import_soco_json or args.export_soco_json):
        parser.error('give an image SOURCE (or --import-soco-json / --export-soco-json)')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    from data_prep.soco_json import export_soco_json, import_soco_json

    if args.export_soco_json:
        try:
            n = export_soco_json(args.out, args.export_soco_json)
        except (OSError, ValueError) as e:
            print(f'error: --export-soco-json writes the proposals file given as --out: {e}',
                  file=sys.stderr)
            return 2
        print(f'wrote {n} images to {args.export_soco_json}')
        return 0
    if args.import_soco_json:
        if args.root is None:
            # without the images, the file would store every size as (0, 0), and the training
            # loader could not check that the boxes fit the image it reads
            print('error: --import-soco-json needs --root, the folder of the images the JSON '
                  'names: it matches the names to files and stores each image\'s size',
                  file=sys.stderr)
            return 2
        if not os.path.isdir(args.root):
            print(f'error: --root {args.root}: no such folder of images', file=sys.stderr)
            return 2
        try:
            rep = import_soco_json(args.import_soco_json, args.out, image_root=args.root)
        except OSError as e:
            print(f'error: {e.filename or args.import_soco_json}: {e.strerror or e}',
                  file=sys.stderr)
            return 2
        except ValueError as e:
            print(f'error: {e}', file=sys.stderr)
            return 2
        print(f'wrote {rep["images"]} images, {rep["boxes"]} boxes to {args.out}'
              + (f'; {len(rep["unmatched"])} names without an image (e.g. '
                 f'{rep["unmatched"][:3]})' if rep['unmatched'] else '')
              + (f'; {len(rep["ambiguous"])} ambiguous names' if rep['ambiguous'] else ''))
        return 0

    from data_prep.pipeline import generate_proposals, output_paths
    try:
        search = SelectiveSearch(sigma=args.sigma, k=args.k, min_size=args.min_size,
                                 strategy=args.strategy, color_spaces=args.color_space,
                                 scale=args.scale)
        box_filter = BoxFilter(min_side=args.min_side, min_ratio=args.ratio[0],
                               max_ratio=args.ratio[1], min_scale=args.box_scale[0],
                               max_scale=args.box_scale[1])
        report = generate_proposals(
            args.source, args.out, root=args.root, search=search, box_filter=box_filter,
            workers=args.workers, shard_size=args.shard_size, overwrite=args.overwrite,
            keep_parts=args.keep_parts, progress=not args.no_progress,
            log=lambda msg: print(msg, file=sys.stderr, flush=True), part=args.part,
            merge_only=args.merge)
    except KeyboardInterrupt:
        return 130
    except (FileNotFoundError, FileExistsError, ValueError, RuntimeError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    if 'part' in report:
        i, n = report['part']
        print(f'{args.out}: part {i}/{n} done ({report["images"]} images, '
              f'{report["images_computed_this_run"]} computed now); '
              f'{report["shards_missing_overall"]} shards still missing overall')
    if 'counts' in report:
        c = report['counts']
        print(f'{args.out}: {report["images"]} images, {report["boxes"]["kept_total"]} boxes '
              f'({report["boxes"]["kept_per_image"]:.1f} per image); fallbacks: '
              f'{c["ratio_only"]} ratio-only, {c["unfiltered"]} unfiltered; {c["empty"]} '
              f'without any box, {c["failed"]} failed; report: {output_paths(args.out)[1]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
