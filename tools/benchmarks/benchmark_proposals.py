"""Measure the proposal stage: speed, boxes kept, recall, and the proposals file at ImageNet scale.

Proposals, on any labelled detection set (Pascal VOC XML, YOLO txt, COCO json; see
``data_prep/annotations``) or, without ``--dataset``, on 60 hand-placed boxes on 9 photos
bundled with scikit-image (``skimage_boxes.json``, resized to a 500 px longer side):

- raw and kept (after the paper's filter and its fallbacks) proposals per image,
- recall at IoU >= 0.5 of the annotated boxes by the raw and by the kept proposals, and by the
  kept proposals of the annotated boxes the paper's filter can keep ("eligible"),
- seconds per image on one thread (``cv2.setNumThreads(1)``, OMP/BLAS threads 1).

When the pure-Python ``selectivesearch`` package (0.4, what the original SoCo code used) is
importable, it runs as the reference at the same Felzenszwalb parameters on the full-size image,
and again on the copy our default segments (``--split-speedup``), so the speed-up splits into
resolution and implementation. All methods run in the same process, image by image, in an
order rotated per image, so that load from other work slows all of them alike.

    B=tools/benchmarks/benchmark_proposals.py
    python $B --dataset DIR --format voc --skip-pipeline --skip-storage
    python $B --dataset DIR --format yolo --split val2017 --limit 50
    python $B --dataset train.json --format coco --images DIR/train
    python $B --sweep --limit 20 ...   # other settings too (trade-off)
    python $B --skip-proposals --skip-pipeline   # the file at 1.28M images
    python $B --scale-table DATA --max-images 60  # each scale vs the original, 4 sets

``selectivesearch`` is a benchmark-only dependency (``pip install --no-deps --target
work_dirs/ssbench selectivesearch==0.4``, then ``PYTHONPATH=work_dirs/ssbench``; it needs
scikit-image).
The load average is printed at the start and the end: timings taken while other work runs are
slower.
"""
import os

for _var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ.setdefault(_var, '1')  # one thread, set before numpy loads its BLAS

import argparse  # noqa: E402
import json  # noqa: E402
import os.path as osp  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Callable, List, Optional  # noqa: E402

import numpy as np  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:  # run as a script from a checkout: the data_prep next to it
    sys.path.insert(0, REPO)

import data_prep  # noqa: E402

BOXES_FILE = osp.join(osp.dirname(data_prep.__file__), 'skimage_boxes.json')
IMAGENET_TRAIN_IMAGES = 1281167
ORIGINAL = 'selectivesearch 0.4, full size (original)'


# ------------------------------------------------------------------------------ recall sets
@dataclass
class Sample:
    """One benchmark image: name, (H, W, 3) uint8 BGR image, annotated boxes (n, 4)."""

    name: str
    image: np.ndarray
    gt: np.ndarray


def load_recall_set(max_side: int = 500) -> List[Sample]:
    """The 9 bundled scikit-image photos, longer side ``max_side``, with their hand boxes."""
    import cv2

    from data_prep.demo_collection import skimage_data_dir
    with open(BOXES_FILE) as f:
        ann = json.load(f)['images']
    out = []
    for name, objs in ann.items():
        img = cv2.imread(osp.join(skimage_data_dir(), name), cv2.IMREAD_COLOR)
        h, w = img.shape[:2]
        s = max_side / max(h, w)
        img = cv2.resize(img, (round(w * s), round(h * s)),
                         interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        gt = np.array([o['box'] for o in objs], dtype=np.float64) * s
        out.append(Sample(name, img, gt))
    return out


def load_labelled_set(dataset: str, fmt: str, images: Optional[str] = None,
                      annotations: Optional[str] = None, split: Optional[str] = None,
                      limit: int = 0, max_side: int = 0,
                      log: Callable[[str], None] = print) -> List[Sample]:
    """Images of a labelled set with their boxes (``data_prep.annotations.load_dataset``).

    ``limit`` > 0 takes that many images evenly spread over the sorted list (a fixed subset);
    ``max_side`` > 0 shrinks larger images (and their boxes) to that longer side. Images
    without any box are left out (they cannot measure recall) and counted.
    """
    import cv2

    from data_prep.annotations import load_dataset
    from data_prep.image_io import ImageError, read_image
    ds = load_dataset(dataset, fmt, images=images, annotations=annotations, split=split)
    records = [r for r in ds.images if len(r.boxes)]
    log(f'{dataset} ({fmt}): {ds.summary()}; {len(ds.images) - len(records)} without boxes '
        f'left out')
    for path, reason in ds.skipped:
        log(f'  skipped {path}: {reason}')
    if limit and limit < len(records):
        idx = np.linspace(0, len(records) - 1, limit).round().astype(int)
        records = [records[i] for i in idx]
    out = []
    for r in records:
        try:
            img, _ = read_image(ds.path(r))
        except ImageError as e:
            log(f'  skipped {ds.path(r)}: {e}')
            continue
        gt = r.boxes.copy()
        if img.shape[1::-1] != (r.width, r.height):  # annotation size vs decoded image
            log(f'  skipped {ds.path(r)}: decoded {img.shape[1]}x{img.shape[0]}, annotated '
                f'{r.width}x{r.height}')
            continue
        h, w = img.shape[:2]
        if max_side and max(h, w) > max_side:
            s = max_side / max(h, w)
            img = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))),
                             interpolation=cv2.INTER_AREA)
            gt *= np.array([img.shape[1] / w, img.shape[0] / h] * 2)
        out.append(Sample(r.file_name, img, gt))
    return out


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix (n, m) of boxes x1, y1, x2, y2."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-12)


def covered(gt: np.ndarray, boxes: np.ndarray, thr: float = 0.5) -> np.ndarray:
    """bool (n,): annotated box i is matched by some proposal with IoU >= thr."""
    if len(boxes) == 0 or len(gt) == 0:
        return np.zeros(len(gt), dtype=bool)
    return box_iou(gt, boxes).max(axis=1) >= thr


# ------------------------------------------------------------------------------ methods
def pure_python_baseline(sigma: float, k: float, min_size: int, working_side: int = 0):
    """The ``selectivesearch`` package (0.4) as a propose function; None if not installed.

    Args:
        working_side (int): 0 runs it on the image as given (the original); > 0 on a copy
            shrunk to that longer side (``cv2.INTER_AREA``, as ours), boxes mapped back.
    """
    try:
        import selectivesearch
    except ImportError:
        return None
    import cv2

    def propose(img):
        h, w = img.shape[:2]
        small = img
        if working_side and max(h, w) > working_side:
            f = working_side / max(h, w)
            small = cv2.resize(img, (max(1, round(w * f)), max(1, round(h * f))),
                               interpolation=cv2.INTER_AREA)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            _, regions = selectivesearch.selective_search(
                cv2.cvtColor(small, cv2.COLOR_BGR2RGB), scale=k, sigma=sigma, min_size=min_size)
        # its rect is (min_x, min_y, max_x - min_x, max_y - min_y) with inclusive max
        r = np.array([reg['rect'] for reg in regions], dtype=np.float64).reshape(-1, 4)
        boxes = np.concatenate([r[:, :2], r[:, :2] + r[:, 2:] + 1], axis=1)
        if small is not img:
            sh, sw = small.shape[:2]
            boxes = np.round(boxes * np.array([w / sw, h / sh] * 2))
        return np.unique(boxes, axis=0)

    return propose


@dataclass
class Method:
    """A named propose function (BGR image -> raw boxes x1y1x2y2) and what it measured."""

    name: str
    propose: Callable
    setting: dict = field(default_factory=dict)
    times: list = field(default_factory=list)
    raw_n: list = field(default_factory=list)
    kept_n: list = field(default_factory=list)
    levels: list = field(default_factory=list)
    hit_raw: int = 0
    hit_kept: int = 0
    hit_elig: int = 0

    def summary(self, n_gt: int, n_elig: int) -> dict:
        s = float(np.mean(self.times))
        return dict(name=self.name, setting=self.setting, images=len(self.times),
                    seconds_per_image=s, images_per_second_per_core=1.0 / s,
                    raw_per_image=float(np.mean(self.raw_n)),
                    kept_per_image=float(np.mean(self.kept_n)),
                    recall_raw=self.hit_raw / max(n_gt, 1),
                    recall_kept=self.hit_kept / max(n_gt, 1),
                    recall_kept_eligible=self.hit_elig / max(n_elig, 1),
                    fallback_images=int(sum(lv in (1, 2) for lv in self.levels)),
                    objects=int(n_gt), eligible_objects=int(n_elig))


def evaluate(methods: List[Method], samples: List[Sample], repeats: int, box_filter,
             progress: bool = False) -> List[dict]:
    """Run every method on every image, interleaved: for image i the methods run in an order
    rotated by i, each ``repeats`` times (mean), so machine load hits all of them alike."""
    n_gt = n_elig = 0
    t_start = time.perf_counter()
    for i, smp in enumerate(samples):
        h, w = smp.image.shape[:2]
        eligible = box_filter.mask(smp.gt, w, h)
        n_gt += len(smp.gt)
        n_elig += int(eligible.sum())
        order = [methods[(i + j) % len(methods)] for j in range(len(methods))]
        for m in order:
            t = []
            for _ in range(repeats):
                start = time.perf_counter()
                raw = m.propose(smp.image)
                t.append(time.perf_counter() - start)
            m.times.append(float(np.mean(t)))
            kept, level = box_filter.select(raw, w, h)
            m.raw_n.append(len(raw))
            m.kept_n.append(len(kept))
            m.levels.append(level)
            m.hit_raw += int(covered(smp.gt, raw).sum())
            hk = covered(smp.gt, kept)
            m.hit_kept += int(hk.sum())
            m.hit_elig += int(hk[eligible].sum())
        if progress and (i + 1) % 10 == 0:
            print(f'  ... {i + 1}/{len(samples)} images, {time.perf_counter() - t_start:.0f} s',
                  file=sys.stderr, flush=True)
    return [m.summary(n_gt, n_elig) for m in methods]


def _row(r):
    return (f"{r['name']:46s} {r['seconds_per_image']:7.3f} {r['images_per_second_per_core']:6.1f}"
            f" {r['raw_per_image']:7.1f} {r['kept_per_image']:6.1f} {r['recall_raw']:6.3f}"
            f" {r['recall_kept']:6.3f} {r['recall_kept_eligible']:6.3f}"
            f" {r['fallback_images']:4d}")


_HEADER = (f"{'setting':46s} {'s/img':>7s} {'img/s':>6s} {'raw':>7s} {'kept':>6s} {'R raw':>6s}"
           f" {'R kept':>6s} {'R elig':>6s} {'fall':>4s}")


def _describe(s) -> str:
    return (f"sigma {s.sigma:g}, k {'/'.join(f'{k:g}' for k in s.k)}, min {s.min_size}, "
            f"{'+'.join(s.color_spaces)}, strategy {s.strategy}, scale {s.scale}"
            f"{', params rescaled' if getattr(s, 'rescale_params', False) else ''}")


def sweep_settings():
    """(name, SelectiveSearch) of the trade-off sweep around the original's single segmentation
    (k 300): resolution, parameter rescaling, more segmentations (k) and colour spaces (the
    rows of the trade-off table in docs/proposals.md)."""
    from data_prep.selective_search import SelectiveSearch as S
    one = dict(k=(300, ))
    out = []
    for scale in (300, 400, 500):
        for rescale in (False, True):
            out.append((f'scale {scale}, k 300{", rescaled" if rescale else ""}',
                        S(scale=scale, rescale_params=rescale, **one)))
    for scale in (300, 400, 500):
        out.append((f'scale {scale}, k 300+150, rescaled',
                    S(scale=scale, rescale_params=True, k=(300, 150))))
        out.append((f'scale {scale}, k 300, rescaled, rgb+hsv',
                    S(scale=scale, rescale_params=True, color_spaces=('rgb', 'hsv'), **one)))
        out.append((f'scale {scale}, k 300, rescaled, rgb+lab',
                    S(scale=scale, rescale_params=True, color_spaces=('rgb', 'lab'), **one)))
    out.append(('scale 400, k 300, rescaled, min 50',
                S(scale=400, rescale_params=True, min_size=50, **one)))
    out.append(('scale 400, k 300, rescaled, strategy fill',
                S(scale=400, rescale_params=True, strategy='fill', **one)))
    for scale in (250, 300):
        out.append((f'scale {scale}, k 300+100+50', S(scale=scale, k=(300, 100, 50))))
        out.append((f'scale {scale}, k 300, rgb+hsv+lab',
                    S(scale=scale, color_spaces=('rgb', 'hsv', 'lab'), **one)))
    out.append(('scale 300, k 300+100', S(scale=300, k=(300, 100))))
    out.append(('scale 300, k 300, rgb+hsv', S(scale=300, color_spaces=('rgb', 'hsv'), **one)))
    return out


def run_proposals(args) -> dict:
    import cv2

    from data_prep.filters import BoxFilter
    from data_prep.selective_search import SelectiveSearch
    cv2.setNumThreads(1)
    if args.dataset:
        samples = load_labelled_set(args.dataset, args.format, args.images, args.annotations,
                                    args.split, args.limit, args.max_side)
        where = f'{args.dataset} ({args.format}{", " + args.split if args.split else ""})'
    else:
        samples = load_recall_set()
        where = '9 photos (skimage/data), longer side 500 px, skimage_boxes.json'
    if not samples:
        raise SystemExit(f'{where}: no image with boxes to measure')
    sizes = np.array([s.image.shape[1::-1] for s in samples])
    box_filter = BoxFilter()
    default = SelectiveSearch()
    print(f'\n== proposals: {where}: {len(samples)} images, mean {sizes[:, 0].mean():.0f}x'
          f'{sizes[:, 1].mean():.0f} (longer side {sizes.max(1).min()}-{sizes.max(1).max()}), '
          f'{sum(len(s.gt) for s in samples)} annotated boxes; 1 process, 1 thread, '
          f'{args.repeats} run(s) per image and method, methods interleaved')
    print(f'ours = data_prep.selective_search.SelectiveSearch; defaults: {_describe(default)}')
    print('R raw / R kept: recall at IoU>=0.5 of all annotated boxes by raw / kept boxes; '
          'R elig: by kept boxes, of the annotated boxes the paper\'s filter can keep; '
          'fall: images on a fallback level')
    methods = [Method('ours, defaults', default, default.to_dict())]
    full = SelectiveSearch(scale=0, k=(300, ))
    if args.split_speedup:
        methods.append(Method('ours, defaults at full size', SelectiveSearch(
            **{**default.to_dict(), 'scale': 0}), dict(default.to_dict(), scale=0)))
    for spec in args.setting or []:
        kw = json.loads(spec)
        methods.append(Method(f'ours, {spec}', SelectiveSearch(**kw), kw))
    if args.sweep:
        methods += [Method(f'ours, {n}', s, s.to_dict()) for n, s in sweep_settings()]
        if not args.split_speedup:
            methods.append(Method('ours, scale 0 (full size), k 300', full, full.to_dict()))
    baseline = None if args.no_baseline else pure_python_baseline(
        default.sigma, default.k[0], default.min_size)
    if baseline is not None:
        methods.append(Method(ORIGINAL, baseline,
                              dict(sigma=default.sigma, k=default.k[0],
                                   min_size=default.min_size)))
        if args.split_speedup:
            reduced = pure_python_baseline(default.sigma, default.k[0], default.min_size,
                                           default.scale)
            methods.append(Method(f'selectivesearch 0.4 at {default.scale} px', reduced,
                                  dict(scale=default.scale)))
    elif not args.no_baseline:
        print('(selectivesearch not importable: pip install --no-deps --target work_dirs/ssbench '
              'selectivesearch==0.4 and run with PYTHONPATH=work_dirs/ssbench to compare)')
    print(_HEADER, flush=True)
    results = evaluate(methods, samples, args.repeats, box_filter, progress=args.progress)
    for r in results:
        print(_row(r), flush=True)
    out = dict(dataset=where, images=[s.name for s in samples], results=results)
    by = {r['name']: r for r in results}
    orig = by.get(ORIGINAL)
    ours = by['ours, defaults']
    if orig is not None:
        speed = orig['seconds_per_image'] / ours['seconds_per_image']
        print(f"\ndefaults vs original: {speed:.1f}x faster per image; kept boxes "
              f"{ours['kept_per_image']:.1f} vs {orig['kept_per_image']:.1f}; recall kept "
              f"{ours['recall_kept']:.3f} vs {orig['recall_kept']:.3f}, eligible "
              f"{ours['recall_kept_eligible']:.3f} vs {orig['recall_kept_eligible']:.3f}")
        split = {}
        fo = by.get('ours, defaults at full size')
        if fo is not None:
            split['implementation_at_full_size'] = (orig['seconds_per_image']
                                                    / fo['seconds_per_image'])
            split['resolution_for_ours'] = fo['seconds_per_image'] / ours['seconds_per_image']
        ro = by.get(f'selectivesearch 0.4 at {default.scale} px')
        if ro is not None:
            split['resolution_for_original'] = (orig['seconds_per_image']
                                                / ro['seconds_per_image'])
            split['implementation_at_working_size'] = (ro['seconds_per_image']
                                                       / ours['seconds_per_image'])
        if split:
            print('speed-up split: ' + ', '.join(f'{k} {v:.1f}x' for k, v in split.items()))
        out['speedup'] = dict(total=speed, **split)
    return out


# ------------------------------------------------------------------------------ scale table
#: the shared detection sets under one folder (docs/benchmarks.md#datasets): name -> arguments of
#: load_labelled_set.  CamVid has label masks, no boxes: it cannot measure box recall.
SHARED_SETS = {
    'coco128': dict(dataset='coco128', fmt='yolo', images='coco128/images',
                    annotations='coco128/object_detection/labels'),
    'raccoon': dict(dataset='raccoon', fmt='voc'),
    'kangaroo': dict(dataset='kangaroo', fmt='voc'),
    'bccd': dict(dataset='bccd', fmt='voc'),
}
SCALES = (150, 175, 200, 225, 250, 275, 300)


def run_scale_table(args) -> dict:
    """Every ``--scales`` value of the default segmentation against the original, per shared set.

    Per set, the same ``--max-images`` images (evenly spread) go through every scale and the
    original, interleaved image by image.  Prints per set and scale the speed-up over the
    original and the recall (kept boxes, all and eligible annotated boxes) next to the
    original's, then the fastest scale whose recall is at least the original's on every set.
    """
    import cv2

    from data_prep.filters import BoxFilter
    from data_prep.selective_search import SelectiveSearch
    cv2.setNumThreads(1)
    default = SelectiveSearch()
    baseline = None if args.no_baseline else pure_python_baseline(
        default.sigma, default.k[0], default.min_size)
    if baseline is None:
        print('(no original: selectivesearch not importable or --no-baseline; recall only)')
    table = {}
    for name in args.sets:
        spec = SHARED_SETS[name]
        root = args.shared_sets
        samples = load_labelled_set(
            osp.join(root, spec['dataset']), spec['fmt'],
            osp.join(root, spec['images']) if 'images' in spec else None,
            osp.join(root, spec['annotations']) if 'annotations' in spec else None,
            limit=args.limit)
        if not samples:
            raise ValueError(f'{osp.join(root, spec["dataset"])}: no image with boxes')
        methods = [Method(f'scale {sc}', SelectiveSearch(scale=sc), dict(scale=sc))
                   for sc in args.scales]
        if baseline is not None:
            methods.append(Method(ORIGINAL, baseline, {}))
        print(f'\n== {name}: {len(samples)} images, scales {args.scales}'
              f'{" and the original" if baseline else ""}, interleaved', flush=True)
        table[name] = {r['name']: r for r in evaluate(methods, samples, args.repeats,
                                                      BoxFilter(), progress=args.progress)}
    print(f"\n{'set':10s} {'scale':>5s} {'s/img':>7s} {'speed-up':>8s} {'kept':>6s} "
          f"{'R kept':>6s} {'orig':>6s} {'R elig':>6s} {'orig':>6s}")
    for name, rows in table.items():
        orig = rows.get(ORIGINAL)
        for sc in args.scales:
            r = rows[f'scale {sc}']
            speed = (f"{orig['seconds_per_image'] / r['seconds_per_image']:7.1f}x" if orig
                     else '       -')
            print(f"{name:10s} {sc:5d} {r['seconds_per_image']:7.3f} {speed} "
                  f"{r['kept_per_image']:6.1f} {r['recall_kept']:6.3f} "
                  f"{orig['recall_kept'] if orig else float('nan'):6.3f} "
                  f"{r['recall_kept_eligible']:6.3f} "
                  f"{orig['recall_kept_eligible'] if orig else float('nan'):6.3f}")
    out = dict(sets=table, scales=list(args.scales))
    if all(ORIGINAL in rows for rows in table.values()):
        for key in ('recall_kept', 'recall_kept_eligible'):
            keeps = [sc for sc in args.scales if all(
                rows[f'scale {sc}'][key] >= rows[ORIGINAL][key] for rows in table.values())]
            fastest = min(keeps, default=None, key=lambda sc: sum(
                rows[f'scale {sc}']['seconds_per_image'] for rows in table.values()))
            out[f'fastest_keeping_{key}'] = fastest
            print(f'fastest scale with {key} >= the original on every set: '
                  f'{fastest if fastest is not None else "none"}')
    return out


# ------------------------------------------------------------------------------ pipeline
def run_pipeline(args) -> dict:
    """End-to-end images/s of generate_proposals (decode + search + filter + files)."""
    from data_prep.demo_collection import build_demo_collection
    from data_prep.pipeline import generate_proposals
    print('\n== pipeline: generate_proposals on the demo collection (JPEG, longer side <= 500)')
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        paths = build_demo_collection(osp.join(tmp, 'imgs'), 44)
        for workers in sorted({1, min(2, os.cpu_count() or 1)}):
            start = time.perf_counter()
            rep = generate_proposals(osp.join(tmp, 'imgs'), osp.join(tmp, f'p{workers}.npz'),
                                     workers=workers, shard_size=16, progress=False,
                                     log=lambda m: None)
            wall = time.perf_counter() - start
            out[workers] = dict(images=len(paths), seconds=wall,
                                images_per_second=len(paths) / wall,
                                kept_per_image=rep['boxes']['kept_per_image'])
            print(f'{len(paths)} images, --workers {workers}: {wall:.2f} s, '
                  f'{len(paths) / wall:.1f} img/s (all included: pool start, decode, merge)')
    return out


# ------------------------------------------------------------------------------ storage
def _rss_mib() -> dict:
    """Resident memory (MiB): total, anonymous (private to the process) and file-backed (pages
    of mapped files: shared page cache, reclaimable, shared by forked data-loader workers)."""
    out = {}
    try:
        with open('/proc/self/status') as f:
            for line in f:
                key = line.split(':')[0]
                if key in ('VmRSS', 'RssAnon', 'RssFile'):
                    out[key] = int(line.split()[1]) / 1024
    except OSError:
        import resource
        out['VmRSS'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return dict(total=out.get('VmRSS', 0.0), anon=out.get('RssAnon', float('nan')),
                file=out.get('RssFile', float('nan')))


def _fmt_rss(r: dict) -> str:
    return f"{r['total']:.0f} MiB ({r['anon']:.0f} anon + {r['file']:.0f} file-backed)"


def synthetic_items(n: int, seed: int = 0, mean_boxes: int = 20):
    """ImageNet-like keys with random whole-pixel boxes in 500x375 images."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(mean_boxes // 2, mean_boxes + mean_boxes // 2 + 1, size=n)
    xy = rng.integers(0, 250, size=(int(counts.sum()), 2))
    wh = rng.integers(32, 250, size=(int(counts.sum()), 2))
    boxes = np.concatenate([xy, xy + wh], axis=1)
    ends = np.cumsum(counts)
    per_class = -(-n // 1000)
    for i in range(n):
        c = i // per_class
        yield (f'n{c:08d}/n{c:08d}_{i}.JPEG', boxes[ends[i] - counts[i]:ends[i]], (500, 375))


def storage_probe(path: str, n_lookups: int = 10000) -> dict:
    """Run in a fresh process: load a proposals file, look things up, report time and RSS."""
    from data_prep.storage import ProposalStore
    rng = np.random.default_rng(1)
    rss0 = _rss_mib()
    t0 = time.perf_counter()
    store = ProposalStore.load(path)
    t_load = time.perf_counter() - t0
    rss_load = _rss_mib()
    rows = rng.integers(0, len(store), size=n_lookups)
    keys = [store.key_at(int(i)) for i in rows]
    t0 = time.perf_counter()
    nb = 0
    for k in keys:
        nb += len(store[k])
    t_get = (time.perf_counter() - t0) / n_lookups
    t0 = time.perf_counter()
    hits = sum(k in store for k in keys)
    t_in = (time.perf_counter() - t0) / n_lookups
    rss_lookups = _rss_mib()
    t0 = time.perf_counter()
    all_keys = list(store.keys())
    t_keys = time.perf_counter() - t0
    t0 = time.perf_counter()
    found = store.find(all_keys)
    t_find = time.perf_counter() - t0
    rss_keys = _rss_mib()
    return dict(images=len(store), boxes=store.num_boxes, load_seconds=t_load,
                get_microseconds=t_get * 1e6, contains_microseconds=t_in * 1e6,
                keys_list_seconds=t_keys, bulk_find_seconds=t_find, rss_start_mib=rss0,
                rss_after_load_mib=rss_load, rss_after_lookups_mib=rss_lookups,
                rss_with_all_keys_mib=rss_keys, all_found=bool((found >= 0).all()),
                hits=hits)


def run_storage(args) -> dict:
    from data_prep.storage import ProposalStore
    n = args.storage_images
    print(f'\n== proposals file: synthetic index of {n} images (ImageNet-1k train size), '
          '10-30 boxes each')
    with tempfile.TemporaryDirectory(dir=args.tmp_dir) as tmp:
        path = osp.join(tmp, 'synthetic.npz')
        t0 = time.perf_counter()
        ProposalStore.write(path, synthetic_items(n))
        t_write = time.perf_counter() - t0
        size = osp.getsize(path)
        code = ('import json, runpy, sys; '
                f'probe = runpy.run_path({osp.abspath(__file__)!r})["storage_probe"]; '
                f'print(json.dumps(probe({path!r})))')
        env = dict(os.environ)
        env['PYTHONPATH'] = REPO + os.pathsep + env.get('PYTHONPATH', '')
        probe = json.loads(subprocess.run([sys.executable, '-c', code], check=True, env=env,
                                          capture_output=True, text=True).stdout)
    probe.update(write_seconds=t_write, file_mib=size / 2**20)
    print(f"write: {t_write:.1f} s; file: {size / 2**20:.0f} MiB "
          f"({probe['boxes']} boxes, uint16)")
    print(f"fresh process: ProposalStore.load {probe['load_seconds'] * 1e3:.1f} ms")
    print(f"  resident memory before load:        {_fmt_rss(probe['rss_start_mib'])}")
    print(f"  after load:                         {_fmt_rss(probe['rss_after_load_mib'])}")
    print(f"  after 10000 random store[key]:      {_fmt_rss(probe['rss_after_lookups_mib'])}")
    print(f"  store[key] {probe['get_microseconds']:.1f} us, key in store "
          f"{probe['contains_microseconds']:.1f} us per lookup")
    print(f"  list(store.keys()) of all {probe['images']}: {probe['keys_list_seconds']:.2f} s; "
          f"store.find(all of them): {probe['bulk_find_seconds']:.2f} s")
    print(f"  with that list of 1.28M str alive:  {_fmt_rss(probe['rss_with_all_keys_mib'])}")
    return probe


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='python tools/benchmarks/benchmark_proposals.py',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('--dataset', help='labelled set: a folder (VOC, YOLO) or a COCO json; '
                        'default: the 9 bundled photos with skimage_boxes.json')
    parser.add_argument('--format', choices=('voc', 'yolo', 'coco'), default='voc',
                        help='annotation format of --dataset')
    parser.add_argument('--images', help='image folder (found in the usual layouts)')
    parser.add_argument('--annotations', help='XML folder, label folder or COCO json (found '
                        'in the usual layouts)')
    parser.add_argument('--split', help='VOC ImageSets/Main/<split>.txt or a list file; YOLO '
                        'the images/ and labels/ sub-folder')
    parser.add_argument('--limit', type=int, default=0,
                        help='use this many images, evenly spread (0: all)')
    parser.add_argument('--max-side', type=int, default=0,
                        help='shrink larger images to this longer side first (0: as they are)')
    parser.add_argument('--repeats', type=int, default=1,
                        help='timed runs per image and method (mean)')
    parser.add_argument('--split-speedup', action='store_true',
                        help='also run ours at full size and the original at our working size')
    parser.add_argument('--sweep', action='store_true', help='also time other settings')
    parser.add_argument('--setting', action='append', metavar='JSON',
                        help='also time this SelectiveSearch setting, e.g. '
                        '\'{"scale": 400, "k": [300, 150]}\' (repeatable)')
    parser.add_argument('--scale-table', metavar='DATA', dest='shared_sets',
                        help='instead of the other measurements: every --scales value against '
                        'the original on the shared sets in DATA (coco128, raccoon, kangaroo, '
                        'bccd), speed-up and recall per set and scale')
    parser.add_argument('--scales', type=int, nargs='+', default=list(SCALES),
                        help='segmentation scales (longer side, px) of --scale-table')
    parser.add_argument('--sets', nargs='+', choices=list(SHARED_SETS),
                        default=list(SHARED_SETS), help='shared sets of --scale-table')
    parser.add_argument('--max-images', type=int, dest='limit',
                        help='same as --limit: this many images per set, evenly spread')
    parser.add_argument('--progress', action='store_true', help='progress on stderr')
    parser.add_argument('--no-baseline', action='store_true',
                        help='skip the pure-Python selectivesearch package')
    parser.add_argument('--skip-proposals', action='store_true')
    parser.add_argument('--skip-pipeline', action='store_true')
    parser.add_argument('--skip-storage', action='store_true')
    parser.add_argument('--storage-images', type=int, default=IMAGENET_TRAIN_IMAGES)
    parser.add_argument('--tmp-dir', default=None, help='where the synthetic file is written')
    parser.add_argument('--json', help='also write the figures to this JSON file')
    args = parser.parse_args(argv)

    import cv2
    load0 = os.getloadavg()
    print(f'machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, '
          f'Python {platform.python_version()}, numpy {np.__version__}, OpenCV {cv2.__version__}')
    print(f'load average at start: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}')
    figures = dict(load_start=load0)
    try:
        if args.shared_sets:
            figures['scale_table'] = run_scale_table(args)
            args.skip_proposals = args.skip_pipeline = args.skip_storage = True
        if not args.skip_proposals:
            figures['proposals'] = run_proposals(args)
        if not args.skip_pipeline:
            figures['pipeline'] = run_pipeline(args)
        if not args.skip_storage:
            figures['storage'] = run_storage(args)
    except (OSError, ValueError) as e:  # a missing dataset, split or folder: one line
        print(f'error: {e}', file=sys.stderr)
        return 2
    load1 = os.getloadavg()
    figures['load_end'] = load1
    print(f'\nload average at end: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(figures, f, indent=1, default=float)
    return 0


if __name__ == '__main__':
    sys.exit(main())
