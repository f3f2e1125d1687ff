"""Samples/s of one worker process for the SoCo data pipeline, against a PIL + torchvision one.

The reference is the straightforward implementation of the same recipe that the original SoCo
code follows: PIL decode and resize, torchvision's crop parameters, ``ColorJitter`` /
``RandomGrayscale`` on PIL images, PIL's ``GaussianBlur`` filter and ``solarize``, boxes carried
in numpy, views packed as uint8 tensors (no normalisation, so the reference does no more work than
mmsoco's pipeline).  Both decode the same JPEGs, draw K=4 proposals, build V1-V3 (V4), flip, jitter
and align boxes.  mmsoco's pipeline runs through ``SoCoDataset.__getitem__``.

Images: ImageNet-sized (500x375) JPEGs cut from scikit-image's photos, with 40 random proposals
each, written to a temporary folder (warm page cache: decode is measured, disk is not).  One
thread for OpenCV and torch, as in a dataloader worker.  Check ``uptime`` first: on 2 cores, other
work halves the figures.

    python tools/benchmarks/benchmark_pipeline.py [--samples 300] [--repeats 3]

With ``--loader-workers N [N ...]`` it measures instead the training DataLoader with N worker
processes, built as training builds it (``benchmark_gpu_throughput.build_loader``: the shipped
config's ``env_cfg`` applied by mmengine's ``set_multi_processing``, so OpenCV runs one thread per
worker, then ``Runner.build_dataloader``), and prints samples/s in all and per worker, the
workers' start-up and first prefetched batches outside the timed window.  ``--data DIR`` takes a
collection (``train/`` + ``proposals.npz``, e.g. COCO-size photos prepared with
``benchmark_gpu_throughput.py --prepare-data``) instead of the 500x375 JPEGs::

    python tools/benchmarks/benchmark_pipeline.py --loader-workers 1 2 --data work_dirs/gpu_data
"""
import argparse
import os
import os.path as osp
import tempfile
import time

import cv2
import numpy as np
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as TF
from PIL import Image, ImageFilter, ImageOps


# ------------------------------------------------------------------------------------------------
# data
def make_images(out_dir: str, num_images: int = 24, size=(500, 375), num_boxes: int = 40,
                seed: int = 0):
    """JPEGs of ``size`` from scikit-image photos and a proposals file; returns the file name."""
    from skimage import data as skdata

    from data_prep.storage import ProposalStore

    rng = np.random.default_rng(seed)
    photos = [getattr(skdata, name)() for name in
              ('astronaut', 'chelsea', 'coffee', 'rocket', 'hubble_deep_field',
               'immunohistochemistry')]
    os.makedirs(osp.join(out_dir, 'train', 'photos'), exist_ok=True)
    items = []
    for i in range(num_images):
        photo = photos[i % len(photos)]
        photo = photo if photo.ndim == 3 else np.stack([photo] * 3, -1)
        h, w = photo.shape[:2]
        ch, cw = int(h * rng.uniform(0.6, 1)), int(w * rng.uniform(0.6, 1))
        y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        img = cv2.resize(np.ascontiguousarray(photo[y:y + ch, x:x + cw, ::-1]), size,
                         interpolation=cv2.INTER_AREA)
        rel = f'photos/img_{i:03d}.jpg'
        cv2.imwrite(osp.join(out_dir, 'train', rel), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        wh = rng.uniform(0.1, 0.6, (num_boxes, 2)) * size
        xy = rng.uniform(0, 1, (num_boxes, 2)) * (np.array(size) - wh)
        items.append((rel, np.concatenate([xy, xy + wh], 1).astype(np.float32), size))
    proposals = osp.join(out_dir, 'proposals.npz')
    ProposalStore.write(proposals, items)
    return proposals


# ------------------------------------------------------------------------------------------------
# the reference: PIL + torchvision, as the original code does it
class PILReference:
    """The SoCo recipe written directly with PIL and torchvision."""

    def __init__(self, num_views: int, num_proposals: int = 4):
        self.num_views = num_views
        self.k = num_proposals
        self.sizes = [224, 224, 112, 192][:num_views]

        def colour(first):
            blur_p, sol_p = (1.0, 0.0) if first else (0.1, 0.2)
            return T.Compose([
                T.RandomApply([T.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8),
                T.RandomGrayscale(p=0.2),
                T.RandomApply([T.Lambda(lambda im: im.filter(
                    ImageFilter.GaussianBlur(radius=np.random.uniform(0.1, 2.0))))], p=blur_p),
                T.RandomApply([T.Lambda(lambda im: ImageOps.solarize(im, 128))], p=sol_p),
            ])

        self.colour = [colour(i == 0) for i in range(num_views)]

    @staticmethod
    def _map(boxes, crop, size):
        j, i, w, h = crop  # x0, y0, w, h in V1
        out = (boxes - [j, i, j, i]) * [size / w, size / h, size / w, size / h]
        clipped = out.clip(0, size)
        keep = ((clipped[:, 2] - clipped[:, 0]) >= 1) & ((clipped[:, 3] - clipped[:, 1]) >= 1)
        return clipped, keep

    def _crop(self, v1, boxes, cands, size, scale=(0.5, 1.0)):
        for _ in range(10):
            i, j, h, w = T.RandomResizedCrop.get_params(v1, scale, (3 / 4, 4 / 3))
            mapped, keep = self._map(boxes, (j, i, w, h), size)
            if (keep & cands).any():
                break
        else:
            i, j, h, w = 0, 0, v1.height, v1.width
            mapped, keep = self._map(boxes, (j, i, w, h), size)
        return TF.resized_crop(v1, i, j, h, w, [size, size]), mapped, keep

    def __call__(self, path, proposals):
        img = Image.open(path).convert('RGB')
        W, H = img.size
        n = len(proposals)
        sel = np.random.choice(n, min(self.k, n), replace=False)
        boxes, ids = proposals[sel].astype(np.float64), sel
        v1 = img.resize((224, 224), Image.BILINEAR)
        b1 = boxes * [224 / W, 224 / H, 224 / W, 224 / H]
        views = [(v1, b1, np.ones(len(b1), bool))]
        v2, b2, k2 = self._crop(v1, b1, np.ones(len(b1), bool), 224)
        views.append((v2, b2, k2))
        views.append((v2.resize((112, 112), Image.BILINEAR), b2 / 2, k2))
        if self.num_views == 4:
            views.append(self._crop(v1, b1, k2, 192))
        out_imgs, present = [], []
        for v, (im, bx, keep) in enumerate(views):
            bx = bx.copy()
            if np.random.rand() < 0.5:
                im = TF.hflip(im)
                bx[:, [0, 2]] = im.width - bx[:, [2, 0]]
            if v > 0:  # box jitter
                jit = (np.random.rand(len(bx)) < 0.5)[:, None]
                r = np.random.uniform(-0.1, 0.1, (len(bx), 4)) * jit
                wh = bx[:, 2:] - bx[:, :2]
                xy = bx[:, :2] + r[:, :2] * wh
                wh = wh * (1 + r[:, 2:])
                bx = np.concatenate([xy, xy + wh], 1).clip(0, im.width)
            im = self.colour[v](im)
            out_imgs.append(TF.pil_to_tensor(im))
            ok = keep & ((bx[:, 2] - bx[:, 0]) >= 1) & ((bx[:, 3] - bx[:, 1]) >= 1)
            present.append({int(i): b for i, b, o in zip(ids, bx, ok) if o})
        common = [i for i in present[0] if all(i in p for p in present[1:])] or [-1]
        for p, im in zip(present, out_imgs):
            p.setdefault(-1, np.array([0, 0, im.shape[2], im.shape[1]], np.float64))
        order = [common[j % len(common)] for j in range(self.k)]
        view_bboxes = torch.from_numpy(np.stack([[p[i] for i in order] for p in present]))
        return out_imgs, view_bboxes.float(), torch.tensor(order).repeat(len(views), 1)


# ------------------------------------------------------------------------------------------------
def throughput(fn, num_samples: int, repeats: int, warmup: int = 10) -> float:
    """Best-of-``repeats`` samples/s of ``fn(i)`` over ``num_samples`` calls."""
    for i in range(warmup):
        fn(i)
    best = 0.
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(num_samples):
            fn(i)
        best = max(best, num_samples / (time.perf_counter() - start))
    return best


def colour_chains():
    """One view's BYOL colour augmentations (first-view probabilities) in three implementations."""
    from mmcv.transforms import Compose

    from mmsoco.datasets import byol_view_transforms
    from mmsoco.registry import TRANSFORMS
    ours = Compose([TRANSFORMS.build(t) for t in byol_view_transforms(True, box_jitter=False)[1:]])
    # mmselfsup's BYOL config without crop and flip.  hue=0: mmcv 2.0.1's adjust_hue raises
    # OverflowError for negative hues under numpy 2 (np.uint8(-6)); without hue it is cheaper.
    selfsup = Compose([TRANSFORMS.build(t) for t in [
        dict(type='RandomApply', prob=0.8, transforms=[dict(
            type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.)]),
        dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
             channel_weights=(0.114, 0.587, 0.2989)),
        dict(type='RandomGaussianBlur', sigma_min=0.1, sigma_max=2.0, prob=1.),
        dict(type='RandomSolarize', prob=0.)]])
    pil = PILReference(3).colour[0]
    return dict(ours=lambda img: ours(dict(img=img)), selfsup=lambda img: selfsup(dict(img=img)),
                pil=lambda img: pil(Image.fromarray(img[..., ::-1])))


def loader_rates(data_root: str, workers, batch: int, batches: int, repeats: int):
    """Samples/s of the training DataLoader over ``data_root`` per worker count, best of
    ``repeats`` (each a fresh loader), from ``benchmark_gpu_throughput``'s functions."""
    import sys
    sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
    from benchmark_gpu_throughput import build_loader, loader_throughput
    rows = []
    for n in workers:
        runs = [loader_throughput(build_loader(data_root, batch, n, pin_memory=False),
                                  batch, n, batches, warmup=2) for _ in range(repeats)]
        rows.append(max(runs, key=lambda r: r['samples_s']))
    return rows


def main():
    parser = argparse.ArgumentParser(description='SoCo pipeline throughput, one process')
    parser.add_argument('--samples', type=int, default=300, help='samples per timed run')
    parser.add_argument('--repeats', type=int, default=3, help='timed runs; the best is shown')
    parser.add_argument('--images', type=int, default=24, help='distinct images')
    parser.add_argument('--interpolation', default='auto',
                        help="SoCoViews resize: auto, bilinear, area, bicubic")
    parser.add_argument('--loader-workers', type=int, nargs='+', metavar='N',
                        help='measure the training DataLoader with N workers instead')
    parser.add_argument('--loader-batch', type=int, default=32, help='DataLoader batch size')
    parser.add_argument('--loader-batches', type=int, default=20,
                        help='timed batches per DataLoader run (at least 2 per worker)')
    parser.add_argument('--data', help='a collection (train/ + proposals.npz) for the '
                        'DataLoader instead of the generated JPEGs')
    args = parser.parse_args()

    if args.loader_workers:
        with tempfile.TemporaryDirectory() as tmp:
            data_root = args.data or tmp
            if not args.data:
                make_images(tmp, args.images)
            load = os.getloadavg()
            rows = loader_rates(data_root, args.loader_workers, args.loader_batch,
                                args.loader_batches, args.repeats)
        print(f'load average before: {load[0]:.2f} ({os.cpu_count()} cores), after: '
              f'{os.getloadavg()[0]:.2f}')
        print(f"training DataLoader over {args.data or f'{args.images} JPEGs 500x375'}, "
              f'batch {args.loader_batch}, best of {args.repeats}, 3 views')
        print(f"{'workers':>7} | {'warm-up':>7} | {'timed':>5} | {'samples/s':>9} | "
              f"{'per worker':>10}")
        for r in rows:
            print(f"{r['workers']:>7} | {r['warmup_batches']:>7} | {r['timed_batches']:>5} | "
                  f"{r['samples_s']:>9.1f} | {r['samples_s_per_worker']:>10.1f}")
        return

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    from mmengine.registry import init_default_scope

    import mmsoco  # noqa: F401
    from mmsoco.datasets import SoCoDataset, soco_train_pipeline
    init_default_scope('mmselfsup')

    load_before = os.getloadavg()
    print(f'load average before: {load_before[0]:.2f} {load_before[1]:.2f} '
          f'{load_before[2]:.2f} ({os.cpu_count()} cores)')
    with tempfile.TemporaryDirectory() as tmp:
        proposals_file = make_images(tmp, args.images)
        rows = []
        for num_views in (3, 4):
            dataset = SoCoDataset(data_root=tmp, proposals_file=proposals_file,
                                  pipeline=soco_train_pipeline(
                                      num_views=num_views, interpolation=args.interpolation))
            n = len(dataset)
            ours = throughput(lambda i: dataset[i % n], args.samples, args.repeats)

            reference = PILReference(num_views)
            infos = [dataset.get_data_info(i) for i in range(n)]
            ref = throughput(
                lambda i: reference(infos[i % n]['img_path'], infos[i % n]['proposals']),
                args.samples, args.repeats)
            rows.append((num_views, ours, ref))

        view = cv2.resize(cv2.imread(dataset.get_data_info(0)['img_path']), (224, 224))
        chains = colour_chains()
        per_view = {name: 1e3 / throughput(lambda i: fn(view), args.samples, args.repeats)
                    for name, fn in chains.items()}

    load_after = os.getloadavg()
    print(f'load average after:  {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}')
    print(f'{args.images} JPEGs 500x375, K=4, {args.samples} samples x best of {args.repeats}, '
          f'one process, 1 thread, SoCoViews interpolation={args.interpolation}')
    print(f"{'views':>5} | {'mmsoco (samples/s)':>18} | {'PIL+torchvision (samples/s)':>27} | "
          f"{'speed-up':>8}")
    for num_views, ours, ref in rows:
        print(f'{num_views:>5} | {ours:>18.1f} | {ref:>27.1f} | {ours / ref:>7.2f}x')
    print('BYOL colour augmentations of one 224x224 view (first-view probabilities), ms/view: '
          f"mmsoco Fast* {per_view['ours']:.2f}, mmselfsup/mmcv (hue off) "
          f"{per_view['selfsup']:.2f}, "
          f"torchvision on PIL {per_view['pil']:.2f}")


if __name__ == '__main__':
    main()
