"""Transfer study: SoCo vs BYOL vs scratch for Faster R-CNN R50-FPN, or FCN / Semantic FPN
(``--task seg``) (thin wrapper).

    python tools/transfer_study.py split voc DATA/raccoon --val 40 --out DIR
    python tools/transfer_study.py run --pretrain-images DIR --train-json DIR/train.json \\
        --val-json DIR/val.json --img-root IMAGES --work-dir WORK
    python tools/transfer_study.py toy-data OUT
    python tools/transfer_study.py run --task seg --pretrain-images DIR --seg-data CAMVID_LIKE \\
        --seg-classes NAME ... --ignore-index 11 --work-dir WORK

Everything is in :mod:`mmsoco.study` (see its ``cli`` module, docs/transfer_study.md and
docs/segmentation.md).
"""
import os
import sys

# before torch loads OpenMP: spinning worker threads slow CPU runs 10-25x on small, busy machines
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

from mmsoco.study.cli import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
