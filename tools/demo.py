"""SoCo end to end on a CPU in a few minutes: the README's main job.

1. writes the demo collection (real photos bundled with scikit-image) into WORK/data/train,
2. computes their selective-search proposals (WORK/data/proposals.npz; resumable),
3. pretrains SoCo R50-FPN with configs/soco/soco_resnet50-fpn_1xb4-coslr-2e_demo.py
   (resumes from WORK/pretrain when run again),
4. converts the last checkpoint for MMDetection's Mask R-CNN R50-FPN.

Each step runs the same command-line tool a user runs, and prints where its output went.  A demo
that has finished says so and runs nothing; ``--force`` pretrains and converts again.

    .venv/bin/python tools/demo.py [--work-dir work_dirs/demo] [--images 44] [--force]
"""
import argparse
import glob
import os
import os.path as osp
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs/soco/soco_resnet50-fpn_1xb4-coslr-2e_demo.py')


def run(step, cmd):
    print(f'\n== {step}\n$ {" ".join(cmd)}', flush=True)
    t0 = time.time()
    env = dict(os.environ)
    env.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    if subprocess.call(cmd, cwd=REPO, env=env):
        sys.exit(f'demo: step "{step}" failed (command above); fix it and run the demo again: '
                 'finished steps are not redone.')
    print(f'== {step}: done in {time.time() - t0:.0f} s', flush=True)


def summary(data, proposals, pretrain, soco_ckpt, mmdet_ckpt):
    """Where each file of the demo is, and the fine-tuning command with what it needs."""
    return (f'  images           {data}/train\n'
            f'  proposals        {proposals} (report: {proposals[:-4]}.report.json)\n'
            f'  pretraining log  {pretrain}/<timestamp>/<timestamp>.log\n'
            f'  SoCo checkpoint  {soco_ckpt}\n'
            f'  mmdet checkpoint {mmdet_ckpt}\n'
            'Fine-tune it: tools/dist_train.sh is for pretraining; for detection use mmdet\'s\n'
            f'  tools/train.py configs/transfer/mask-rcnn_r50_fpn_soco-100e_1x_coco.py '
            f'--cfg-options load_from={mmdet_ckpt}\n'
            '  (needs COCO 2017 in data/coco/ and a CUDA GPU: on a CPU machine it stops with '
            'a traceback)')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default=osp.join(REPO, 'work_dirs', 'demo'))
    parser.add_argument('--images', type=int, default=44,
                        help='demo images (11 photos, then mirrored/cropped variants)')
    parser.add_argument('--force', action='store_true',
                        help='pretrain and convert again, from scratch, in a finished demo '
                        '(the images and proposals are kept)')
    args = parser.parse_args()
    work = osp.abspath(args.work_dir)
    data, pretrain = osp.join(work, 'data'), osp.join(work, 'pretrain')
    proposals = osp.join(data, 'proposals.npz')
    mmdet_ckpt = osp.join(work, 'soco_r50-fpn_mmdet-rcnn.pth')
    py = sys.executable
    t0 = time.time()

    from mmengine.config import Config
    epochs = Config.fromfile(CONFIG).train_cfg.max_epochs
    final = osp.join(pretrain, f'epoch_{epochs}.pth')
    trained = osp.isfile(final) and not args.force
    if trained and osp.isfile(proposals) and osp.isfile(mmdet_ckpt) \
            and osp.getmtime(mmdet_ckpt) >= osp.getmtime(final):
        print(f'The demo in {work} has finished; nothing to do. Written:\n'
              + summary(data, proposals, pretrain, final, mmdet_ckpt) + '\n'
              f'To pretrain ({epochs} epochs) and convert again: make demo DEMO_ARGS=--force '
              f'(python tools/demo.py --force); to redo everything, delete {work} first.')
        return

    from data_prep.demo_collection import build_demo_collection
    print(f'== demo collection: {args.images} images -> {data}/train', flush=True)
    build_demo_collection(data, n_images=args.images)

    if not osp.exists(proposals):
        run('selective-search proposals',
            [py, '-m', 'data_prep.generate_proposals', osp.join(data, 'train'),
             '--out', proposals, '--workers', '2'])
    else:
        print(f'== proposals: {proposals} exists, kept', flush=True)

    if trained:
        print(f'== pretraining: {final} exists, kept', flush=True)
    else:   # --resume continues a killed run; --force starts the schedule again
        run('SoCo pretraining (R50-FPN, CPU)',
            [py, 'tools/train.py', CONFIG, '--work-dir', pretrain]
            + ([] if args.force else ['--resume'])
            + ['--cfg-options', f'train_dataloader.dataset.data_root={data}/'])
    ckpts = sorted(glob.glob(osp.join(pretrain, 'epoch_*.pth')),
                   key=lambda p: int(osp.basename(p)[6:-4]))
    if not ckpts:
        sys.exit(f'demo: no checkpoint in {pretrain}')
    run('convert for MMDetection (Mask R-CNN R50-FPN)',
        [py, 'tools/model_converters/soco2mmdet.py', ckpts[-1], mmdet_ckpt])

    print(f'\nDemo finished in {time.time() - t0:.0f} s. Written:\n'
          + summary(data, proposals, pretrain, ckpts[-1], mmdet_ckpt))


if __name__ == '__main__':
    main()
