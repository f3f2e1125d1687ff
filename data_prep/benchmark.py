"""Measure the proposal stage: speed, boxes kept, recall, and the proposals file at ImageNet scale.

Prints, for selective search as set up in ``selective_search.py`` (one process, one OpenCV
thread):

- seconds per image and images/s per core on real photos at ImageNet size (longer side 500 px,
  e.g. 500x333, 500x375),
- raw and kept (after the paper's filter) proposals per image,
- recall at IoU >= 0.5 of the hand-annotated boxes in ``skimage_boxes.json`` (60 objects on 9
  photos bundled with scikit-image), over raw and over kept proposals,

the same for the pure-Python ``selectivesearch`` package (PyPI, 0.4; the one the original SoCo
code used) when it is installed, at the same Felzenszwalb parameters; optionally a sweep of
segmentation scale / strategy / colour space; and the load time and resident memory of a
synthetic proposals file the size of ImageNet-1k train.

    python -m data_prep.benchmark                      # everything (a few minutes on 2 cores)
    python -m data_prep.benchmark --sweep              # plus the speed/recall trade-off table
    python -m data_prep.benchmark --skip-storage --repeats 5

``selectivesearch`` is a benchmark-only dependency: ``pip install selectivesearch==0.4``.
The machine's load average is printed at the start and the end: timings taken while other
work runs are slower.
"""
import argparse
import json
import os
import os.path as osp
import platform
import subprocess
import sys
import tempfile
import time
import warnings

if __package__ in (None, ''):  # run as a script: python data_prep/benchmark.py
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import numpy as np  # noqa: E402

BOXES_FILE = osp.join(osp.dirname(osp.abspath(__file__)), 'skimage_boxes.json')
IMAGENET_TRAIN_IMAGES = 1281167


# ------------------------------------------------------------------------------ recall set
def load_recall_set(max_side: int = 500):
    """[(name, BGR image with longer side ``max_side``, annotated boxes (n, 4) scaled)]."""
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
        out.append((name, img, gt))
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
    if len(boxes) == 0:
        return np.zeros(len(gt), dtype=bool)
    return box_iou(gt, boxes).max(axis=1) >= thr


def evaluate(name, propose, images, repeats, box_filter):
    """Time ``propose`` (BGR image -> raw boxes x1y1x2y2) and measure its recall."""
    times, raw_n, kept_n = [], [], []
    hit_raw = hit_kept = hit_elig = n_gt = n_elig = 0
    for _, img, gt in images:
        t = []
        for _ in range(repeats):
            start = time.perf_counter()
            raw = propose(img)
            t.append(time.perf_counter() - start)
        times.append(float(np.median(t)))
        h, w = img.shape[:2]
        kept, _ = box_filter.select(raw, w, h)
        raw_n.append(len(raw))
        kept_n.append(len(kept))
        eligible = box_filter.mask(gt, w, h)
        hit_raw += covered(gt, raw).sum()
        hk = covered(gt, kept)
        hit_kept += hk.sum()
        hit_elig += hk[eligible].sum()
        n_gt += len(gt)
        n_elig += eligible.sum()
    s = float(np.mean(times))
    return dict(name=name, seconds_per_image=s, images_per_second_per_core=1.0 / s,
                raw_per_image=float(np.mean(raw_n)), kept_per_image=float(np.mean(kept_n)),
                recall_raw=hit_raw / n_gt, recall_kept=hit_kept / n_gt,
                recall_kept_eligible=hit_elig / max(n_elig, 1), objects=int(n_gt),
                eligible_objects=int(n_elig))


def pure_python_baseline(sigma, k, min_size):
    """The ``selectivesearch`` package (0.4) as a propose function; None if not installed."""
    try:
        import selectivesearch
    except ImportError:
        return None
    import cv2

    def propose(img):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            _, regions = selectivesearch.selective_search(
                cv2.cvtColor(img, cv2.COLOR_BGR2RGB), scale=k, sigma=sigma, min_size=min_size)
        # its rect is (min_x, min_y, max_x - min_x, max_y - min_y) with inclusive max
        r = np.array([reg['rect'] for reg in regions], dtype=np.float64).reshape(-1, 4)
        boxes = np.concatenate([r[:, :2], r[:, :2] + r[:, 2:] + 1], axis=1)
        return np.unique(boxes, axis=0)

    return propose


def _row(r):
    return (f"{r['name']:44s} {r['seconds_per_image']:7.3f} {r['images_per_second_per_core']:7.1f}"
            f" {r['raw_per_image']:6.1f} {r['kept_per_image']:6.1f} {r['recall_raw']:6.3f}"
            f" {r['recall_kept']:6.3f} {r['recall_kept_eligible']:6.3f}")


_HEADER = (f"{'setting':44s} {'s/img':>7s} {'img/s':>7s} {'raw':>6s} {'kept':>6s} {'R raw':>6s}"
           f" {'R kept':>6s} {'R elig':>6s}")


def run_proposals(args) -> dict:
    import cv2

    from data_prep.filters import BoxFilter
    from data_prep.selective_search import SelectiveSearch
    cv2.setNumThreads(1)
    images = load_recall_set()
    sizes = [img.shape[1::-1] for _, img, _ in images]
    box_filter = BoxFilter()
    default = SelectiveSearch()
    print(f'\n== proposals: {len(images)} photos (skimage/data), longer side 500 px, mean '
          f'{np.mean([w for w, _ in sizes]):.0f}x{np.mean([h for _, h in sizes]):.0f}; '
          f'{sum(len(g) for *_, g in images)} annotated objects; 1 process, 1 OpenCV thread; '
          f'median of {args.repeats} runs per image')
    print('R raw / R kept: recall at IoU>=0.5 of all annotated objects by raw / kept boxes; '
          'R elig: by kept boxes, of the objects whose own box passes the filter')
    print(_HEADER)
    results = []
    print(f'ours = data_prep.selective_search.SelectiveSearch, defaults: {_describe(default)}, '
          f'strategy {default.strategy}')
    settings = [('ours, defaults', default),
                ('ours, full size (scale 0)', SelectiveSearch(scale=0))]
    if args.sweep:
        for scale in (400, 250, 200):
            settings.append((f'ours, scale {scale}', SelectiveSearch(scale=scale)))
        for strategy in ('color+fill+size', 'color+size', 'fill', 'color'):
            settings.append((f'ours, strategy {strategy}', SelectiveSearch(strategy=strategy)))
        for spaces in (('hsv', ), ('lab', ), ('hsv', 'lab')):
            settings.append((f'ours, colour space {"+".join(spaces)}',
                             SelectiveSearch(color_spaces=spaces)))
        settings.append(('ours, k 300 and 150', SelectiveSearch(k=(300, 150))))
        settings.append(('ours, k 300 and 150, scale 200',
                         SelectiveSearch(k=(300, 150), scale=200)))
        settings.append(('ours, full size, k 300 and 150',
                         SelectiveSearch(k=(300, 150), scale=0)))
    for name, search in settings:
        r = evaluate(name, search, images, args.repeats, box_filter)
        r['setting'] = search.to_dict()
        results.append(r)
        print(_row(r), flush=True)
    baseline = None if args.no_baseline else pure_python_baseline(
        default.sigma, default.k[0], default.min_size)
    if baseline is not None:
        import selectivesearch  # noqa: F401
        name = f'selectivesearch 0.4 (pure Python), k {default.k[0]:g}'
        r = evaluate(name, baseline, images, 1, box_filter)
        results.append(r)
        print(_row(r), flush=True)
        ours = results[0]
        print(f'\nspeed-up of the defaults over the pure-Python package: '
              f"{r['seconds_per_image'] / ours['seconds_per_image']:.1f}x per image; recall raw "
              f"{ours['recall_raw']:.3f} vs {r['recall_raw']:.3f}, kept "
              f"{ours['recall_kept']:.3f} vs {r['recall_kept']:.3f}")
        full = results[1]
        print(f"speed-up at full size (scale 0): "
              f"{r['seconds_per_image'] / full['seconds_per_image']:.1f}x")
    elif not args.no_baseline:
        print('\n(selectivesearch not installed: pip install selectivesearch==0.4 to compare)')
    return dict(images=[n for n, *_ in images], results=results)


def _describe(s) -> str:
    return (f"sigma {s.sigma:g}, k {'/'.join(f'{k:g}' for k in s.k)}, min {s.min_size}, "
            f"{'+'.join(s.color_spaces)}, scale {s.scale}")


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
        code = ('import json, sys; from data_prep.benchmark import storage_probe; '
                f'print(json.dumps(storage_probe({path!r})))')
        env = dict(os.environ)
        repo = osp.dirname(osp.dirname(osp.abspath(__file__)))
        env['PYTHONPATH'] = repo + os.pathsep + env.get('PYTHONPATH', '')
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
    parser = argparse.ArgumentParser(prog='python -m data_prep.benchmark',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('--repeats', type=int, default=3, help='timed runs per image (median)')
    parser.add_argument('--sweep', action='store_true', help='also time other settings')
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
    if not args.skip_proposals:
        figures['proposals'] = run_proposals(args)
    if not args.skip_pipeline:
        figures['pipeline'] = run_pipeline(args)
    if not args.skip_storage:
        figures['storage'] = run_storage(args)
    load1 = os.getloadavg()
    figures['load_end'] = load1
    print(f'\nload average at end: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(figures, f, indent=1, default=float)
    return 0


if __name__ == '__main__':
    sys.exit(main())
