"""Proposals for a whole collection: sharded, parallel, resumable, never stopped by one image.

Files, for ``--out proposals.npz``::

    proposals.npz              the result (data_prep.storage layout); written last, atomically
    proposals.report.json      failures, empty images, fallbacks, conversions, timing
    proposals.parts/           while running: manifest.json, lock, shard-000000.npz, ...

The sorted image list is cut into shards of ``shard_size`` images. Workers send back each
image's boxes; a shard is written (temporary name, then ``os.replace``) as soon as all its
images are in, so a file named ``shard-*.npz`` is always complete. A re-run with the same
images and settings (checked against ``manifest.json``) keeps the valid shards and computes
only the missing ones; shards are merged into the result at the end and the parts folder is
removed.

Several machines: ``part=(i, n)`` computes only the i-th of n contiguous blocks of shards into
the same parts folder (on a shared file system) and stops there; a run with ``merge_only=True``
(or a plain run, which also computes whatever is still missing) then merges them exactly as a
single run would, so the result is the same file.

Workers end with the main process however it ends (even SIGKILL): each waits on a pipe whose
only writer is the main process, and on Linux also asks the kernel for SIGKILL when its parent
dies (``PR_SET_PDEATHSIG``).  Once the workers are gone the forkserver, which lives while any
process holding its "alive" pipe lives, exits by itself.
"""
import ctypes
import fcntl
import hashlib
import json
import math
import multiprocessing
import os
import os.path as osp
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from data_prep.collection import list_images, resolve_source
from data_prep.filters import (LEVEL_EMPTY, LEVEL_FILTERED, LEVEL_RATIO_ONLY, LEVEL_UNFILTERED,
                               BoxFilter)
from data_prep.image_io import ImageError, read_image
from data_prep.selective_search import MAX_SIDE, SelectiveSearch
from data_prep.storage import ProposalStore, write_arrays

TOOL = 'data_prep.generate_proposals'
SHARD_FORMAT = 'shard-{:06d}.npz'


# ------------------------------------------------------------------------------ one image
class ImageResult(NamedTuple):
    """What one image gave: its kept boxes, or why it gave none."""
    rel_path: str
    boxes: np.ndarray  # float64 (k, 4) kept x1, y1, x2, y2 in original pixels; (0, 4) on error
    size: Tuple[int, int]  # (width, height) of the image as the training loader sees it
    level: int  # which filter kept the boxes (data_prep.filters LEVEL_*)
    notes: List[str]  # conversions applied while reading ('grayscale', 'cmyk', ...)
    error: Optional[str]  # why the image failed; None when it did not
    raw_boxes: int  # boxes selective search proposed before filtering
    seconds: float  # time spent on the image


def _failed(rel_path: str, error: str, seconds: float = 0.0) -> ImageResult:
    return ImageResult(rel_path, np.zeros((0, 4)), (0, 0), LEVEL_EMPTY, [], error, 0, seconds)


def process_image(root: str, rel_path: str, search: SelectiveSearch,
                  box_filter: BoxFilter) -> ImageResult:
    """Read, search and filter one image; never raises for a bad image."""
    start = time.perf_counter()
    try:
        img, notes = read_image(osp.join(root, rel_path))
        height, width = img.shape[:2]
        if max(width, height) > MAX_SIDE:
            notes.append('large')
        raw = search(img)
        kept, level = box_filter.select(raw, width, height)
        return ImageResult(rel_path, kept, (width, height), level, notes, None, len(raw),
                           time.perf_counter() - start)
    except ImageError as e:
        error = str(e)
    except MemoryError:
        error = 'out of memory while processing (image too large?)'
    except Exception as e:  # noqa: BLE001 - one bad image must not stop the run
        error = f'{type(e).__name__}: {e}'
    return _failed(rel_path, error, time.perf_counter() - start)


_WORKER: dict = {}
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
EXIT_ORPHANED = 75  # a worker's exit status when the main process went away


def exit_with_parent(alive) -> None:
    """End this worker process as soon as the main process is gone, however it ended.

    Args:
        alive (multiprocessing.connection.Connection): Read end of a pipe whose only writer is
            the main process. The kernel closes the writer when the main process dies (SIGKILL
            included); a thread here then reads EOF and ends the process, busy or not. The main
            process closes it on purpose to stop its workers (Ctrl-C).
    """
    if sys.platform.startswith('linux'):
        try:  # and when the parent (the forkserver, or the main process under spawn) dies
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass

    def watch():
        try:
            alive.recv_bytes()
        except (EOFError, OSError):
            pass
        os._exit(EXIT_ORPHANED)

    threading.Thread(target=watch, name='exit-with-parent', daemon=True).start()


def _init_worker(root, search, box_filter, alive=None):
    import cv2
    cv2.setNumThreads(1)  # one image per process; OpenCV's own threads would oversubscribe
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is handled by the main process
    if alive is not None:
        exit_with_parent(alive)
    _WORKER.update(root=root, search=search, box_filter=box_filter)


def _work(chunk: Sequence[str]) -> List[ImageResult]:
    return [process_image(_WORKER['root'], p, _WORKER['search'], _WORKER['box_filter'])
            for p in chunk]


# ------------------------------------------------------------------------------ progress
class _Progress:
    """tqdm when installed (images/s and ETA), else a line every few seconds."""

    def __init__(self, total: int, initial: int, enabled: bool) -> None:
        self.total, self.n, self.failed = total, initial, 0
        self._bar = None
        self._enabled = enabled
        self._start = time.time()
        self._initial = initial
        self._last = 0.0
        if not enabled:
            return
        try:
            from tqdm import tqdm
        except ImportError:
            return
        self._bar = tqdm(total=total, initial=initial, unit='img', desc='proposals',
                         smoothing=0.05, dynamic_ncols=True)

    def update(self, n: int, failed: int) -> None:
        self.n += n
        self.failed += failed
        if self._bar is not None:
            self._bar.update(n)
            if failed:
                self._bar.set_postfix(failed=self.failed, refresh=False)
            return
        now = time.time()
        if self._enabled and (now - self._last > 5 or self.n == self.total):
            self._last = now
            rate = (self.n - self._initial) / max(now - self._start, 1e-9)
            eta = (self.total - self.n) / rate if rate > 0 else float('inf')
            print(f'proposals: {self.n}/{self.total} images, {rate:.1f} img/s, '
                  f'ETA {_fmt_seconds(eta)}, {self.failed} failed', file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _fmt_seconds(s: float) -> str:
    if not math.isfinite(s):
        return '?'
    s = int(s)
    return f'{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}'


# ------------------------------------------------------------------------------ files
def output_paths(out: str) -> Tuple[str, str]:
    """(parts folder, report file) that go with an output file."""
    stem = out[:-4] if out.lower().endswith('.npz') else out
    return stem + '.parts', stem + '.report.json'


def _fingerprint(paths: Sequence[str], settings: dict) -> str:
    h = hashlib.sha1()
    h.update(json.dumps(settings, sort_keys=True).encode())
    for p in paths:
        h.update(p.encode('utf-8') + b'\n')
    return h.hexdigest()


def _lock_name(part: Optional[Tuple[int, int]]) -> str:
    return 'lock' if part is None else f'lock.part-{part[0]}-of-{part[1]}'


def _take_lock(parts_dir: str, part: Optional[Tuple[int, int]] = None) -> int:
    """Hold ``parts_dir/lock`` (one per part) for this run: an flock, so the check and the
    taking are one step, and the kernel drops it when the process dies, however it dies.

    Returns:
        int: The open file descriptor; closing it releases the lock.
    """
    path = osp.join(parts_dir, _lock_name(part))
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            other = json.loads(os.read(fd, 4096) or b'{}')
        except ValueError:
            other = {}
        os.close(fd)
        raise RuntimeError(f'another run (pid {other.get("pid", "?")} on '
                           f'{other.get("host", "?")}) is writing {parts_dir}; wait for it or '
                           'stop it first') from None
    try:
        same = os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        same = False
    if not same:  # a run that just finished removed the folder under us
        os.close(fd)
        raise RuntimeError(f'{parts_dir} was removed by a run that just finished; run again')
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps(dict(pid=os.getpid(), host=socket.gethostname())).encode())
    return fd


def _load_shard(path: str) -> ProposalStore:
    """A shard; one of an older format version is read into memory without a warning."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        return ProposalStore.load(path)


def _shard_ok(path: str, expected: Sequence[str], fingerprint: str) -> bool:
    """A shard file is done when it opens and covers exactly its images."""
    try:
        store = _load_shard(path)
        meta = store.meta
        failed = {p for p, _ in meta.get('failed', [])}
        if meta.get('fingerprint') != fingerprint:
            return False
        return list(store.keys()) == [p for p in expected if p not in failed] and \
            len(store) + len(failed) == len(expected)
    except Exception:  # noqa: BLE001 - anything unreadable is simply redone
        return False


def _write_shard(path: str, results: List[ImageResult], shard: int, fingerprint: str) -> None:
    ok = [r for r in results if r.error is None]
    meta = dict(
        shard=shard,
        fingerprint=fingerprint,
        failed=sorted([r.rel_path, r.error] for r in results if r.error is not None),
        notes={r.rel_path: r.notes for r in ok if r.notes},
        raw_boxes=int(sum(r.raw_boxes for r in ok)),
        seconds=float(sum(r.seconds for r in results)),
    )
    ProposalStore.write(path, ((r.rel_path, r.boxes, r.size, r.level) for r in ok), meta=meta)


def part_shards(num_shards: int, part: Optional[Tuple[int, int]]) -> range:
    """The shards part ``(i, n)`` computes: the i-th of n contiguous, near-equal blocks."""
    if part is None:
        return range(num_shards)
    i, n = part
    return range(i * num_shards // n, (i + 1) * num_shards // n)


# ------------------------------------------------------------------------------ the run
def generate_proposals(source: str,
                       out: str,
                       root: Optional[str] = None,
                       search: SelectiveSearch = SelectiveSearch(),
                       box_filter: BoxFilter = BoxFilter(),
                       workers: int = 1,
                       shard_size: int = 1000,
                       overwrite: bool = False,
                       keep_parts: bool = False,
                       progress: bool = True,
                       log: Callable[[str], None] = print,
                       part: Optional[Tuple[int, int]] = None,
                       merge_only: bool = False) -> dict:
    """Compute the proposals of a collection into one file; see the module docstring.

    Args:
        source (str): Image folder, list file or COCO json (see ``collection.list_images``).
        out (str): Output proposals file (``.npz``).
        root (str, optional): Folder the image paths are relative to.
        search (SelectiveSearch): Selective search setting.
        box_filter (BoxFilter): The paper's filter thresholds.
        workers (int): Worker processes; 0 computes in this process (no isolation from a
            crashing image, for debugging).
        shard_size (int): Images per shard, the unit of resuming.
        overwrite (bool): Discard an existing result and parts and start again.
        keep_parts (bool): Keep the shards after merging.
        progress (bool): Show a progress bar on stderr.
        log (callable): Where one-line messages go.
        part (tuple[int, int], optional): ``(i, n)``, 0 <= i < n: compute only part i of n
            (see :func:`part_shards`) into the parts folder and write no output.
        merge_only (bool): Compute nothing: merge the shards of finished parts into ``out``;
            an error naming the missing shards when some part is not finished.

    Returns:
        dict: The report (also written next to the output); for a part, what it computed.
    """
    out = os.fspath(out)
    if part is not None:
        i, n = part
        if not 0 <= i < n:
            raise ValueError(f'part {i}/{n}: expected 0 <= I < N')
        if overwrite or merge_only:
            raise ValueError('a part cannot --overwrite or --merge: that would discard or '
                             'merge the other parts\' shards')
    paths = list_images(source, root)
    kind, base = resolve_source(source, root)
    settings = dict(search=search.to_dict(), filter=box_filter.to_dict())
    fingerprint = _fingerprint(paths, settings)
    parts_dir, report_path = output_paths(out)

    if osp.exists(out) and not overwrite:
        try:
            existing_fp = ProposalStore.load(out).meta.get('fingerprint')
        except (ValueError, OSError):
            existing_fp = None
        if existing_fp == fingerprint:
            log(f'{out} is already complete for these {len(paths)} images and settings; '
                'nothing to do (--overwrite recomputes it)')
            if osp.exists(report_path):
                with open(report_path) as f:
                    return json.load(f)
            return dict(output=out, images=len(paths))
        raise FileExistsError(f'{out} exists but was made from other images or settings; pass '
                              '--overwrite to replace it, or choose another --out')

    num_shards = math.ceil(len(paths) / shard_size)
    manifest = dict(tool=TOOL, fingerprint=fingerprint, images=len(paths), shard_size=shard_size,
                    shards=num_shards, source=os.fspath(source), root=base, settings=settings)
    os.makedirs(parts_dir, exist_ok=True)
    lock = _take_lock(parts_dir, part)
    try:
        if overwrite:
            _discard(out, report_path, parts_dir)
        shard_paths = [paths[i * shard_size:(i + 1) * shard_size] for i in range(num_shards)]
        manifest_path = osp.join(parts_dir, 'manifest.json')
        if osp.exists(manifest_path):
            with open(manifest_path) as f:
                old = json.load(f)
            if (old.get('fingerprint'), old.get('shard_size')) != (fingerprint, shard_size):
                raise FileExistsError(
                    f'{parts_dir} holds an unfinished run over other images or settings; run that '
                    'command again to finish it, or pass --overwrite to discard it')
        else:  # parts may start together: each writes the same manifest under its own temp name
            fd, tmp = tempfile.mkstemp(prefix='manifest.json.', suffix='.tmp', dir=parts_dir)
            with os.fdopen(fd, 'w') as f:
                json.dump(manifest, f, indent=1)
            os.replace(tmp, manifest_path)

        mine = part_shards(num_shards, part)
        for name in os.listdir(parts_dir):  # leftovers of a killed writer of our shards
            if name.endswith('.tmp') and name.startswith('shard-'):
                try:
                    shard = int(name[len('shard-'):].split('.')[0])
                except ValueError:
                    continue
                if shard in mine:
                    os.unlink(osp.join(parts_dir, name))
        done = {i: _shard_ok(osp.join(parts_dir, SHARD_FORMAT.format(i)), shard_paths[i],
                             fingerprint) for i in mine}
        todo_shards = [i for i in mine if not done[i]]
        if merge_only and todo_shards:
            raise RuntimeError(f'cannot merge {parts_dir}: {len(todo_shards)} of {num_shards} '
                               f'shards are not computed yet (shards {_ranges(todo_shards)}); '
                               'finish the parts first (or run without --merge to compute them '
                               'here)')
        todo = sum(len(shard_paths[i]) for i in todo_shards)
        what = 'shards' if part is None else f'shards of part {part[0]}/{part[1]}'
        if len(todo_shards) < len(mine):
            log(f'resuming: {len(mine) - len(todo_shards)} of {len(mine)} {what} already done, '
                f'{todo} images to go')
        total = sum(len(shard_paths[i]) for i in mine)
        which = '' if part is None else f', part {part[0]}/{part[1]}'
        if merge_only:
            log(f'merging the {num_shards} shards of {total} images ({kind} {source}) into {out}')
        else:
            scale = f'{search.scale} px' if search.scale else 'full size'
            log(f'{total} images ({kind} {source}{which}), {len(mine)} shards, '
                f'workers={workers}, segmentation at {scale}, strategy {search.strategy}, '
                f'colour space {"+".join(search.color_spaces)}')

        start = time.time()
        bar = _Progress(total, total - todo, progress)
        try:
            _run_shards(base, shard_paths, todo_shards, parts_dir, fingerprint, search,
                        box_filter, workers, bar)
        except KeyboardInterrupt:
            bar.close()
            finished = sum(osp.exists(osp.join(parts_dir, SHARD_FORMAT.format(i))) for i in mine)
            log(f'interrupted: {finished} of {len(mine)} {what} are saved in {parts_dir}; run the '
                'same command again to compute the rest')
            raise
        bar.close()
        wall = time.time() - start

        if part is not None:
            left = sum(not osp.exists(osp.join(parts_dir, SHARD_FORMAT.format(i)))
                       for i in range(num_shards))
            log(f'part {part[0]}/{part[1]} done: shards {_ranges(list(mine))} in {parts_dir}; '
                f'{left} of {num_shards} shards still to compute by other parts'
                + ('' if left else '; all there: run with --merge to write the output'))
            return dict(part=list(part), shards=[mine.start, mine.stop], images=total,
                        images_computed_this_run=todo, wall_seconds_this_run=round(wall, 2),
                        shards_missing_overall=left)

        report = _merge(out, report_path, parts_dir, num_shards, manifest, fingerprint, todo, wall)
        if not keep_parts:
            shutil.rmtree(parts_dir)
        return report
    finally:
        os.close(lock)


def _discard(out: str, report_path: str, parts_dir: str) -> None:
    """Remove a result, its report and everything in the parts folder but our lock."""
    for p in (out, report_path):
        if osp.exists(p):
            os.unlink(p)
    for name in os.listdir(parts_dir):
        p = osp.join(parts_dir, name)
        if osp.isdir(p):
            shutil.rmtree(p)
        elif name != _lock_name(None):
            os.unlink(p)


def _ranges(numbers: Sequence[int]) -> str:
    """'0-3, 7, 9-10' for [0, 1, 2, 3, 7, 9, 10]."""
    spans = []
    for k in numbers:
        if spans and spans[-1][1] == k - 1:
            spans[-1][1] = k
        else:
            spans.append([k, k])
    return ', '.join(str(a) if a == b else f'{a}-{b}' for a, b in spans)


def _run_shards(root, shard_paths, todo_shards, parts_dir, fingerprint, search, box_filter,
                workers, bar) -> None:
    """Compute the listed shards, writing each as soon as all of its images are back."""
    pending_shard: Dict[int, List[ImageResult]] = {i: [] for i in todo_shards}
    shard_of = {}
    for i in todo_shards:
        for p in shard_paths[i]:
            shard_of[p] = i

    def collect(results: List[ImageResult]) -> None:
        for r in results:
            i = shard_of[r.rel_path]
            pending_shard[i].append(r)
            if len(pending_shard[i]) == len(shard_paths[i]):
                _write_shard(osp.join(parts_dir, SHARD_FORMAT.format(i)), pending_shard.pop(i), i,
                             fingerprint)
        bar.update(len(results), sum(r.error is not None for r in results))

    todo_paths = [p for i in todo_shards for p in shard_paths[i]]
    if workers <= 0:
        _init_worker(root, search, box_filter)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for p in todo_paths:
            collect([process_image(root, p, search, box_filter)])
        return

    chunk = 4
    chunks = [todo_paths[i:i + chunk] for i in range(0, len(todo_paths), chunk)]
    suspects = _run_pool(chunks, workers, root, search, box_filter, collect)
    # images in flight when a worker process died: retry each alone, so the one that kills
    # its process is named and the others are computed normally
    for p in suspects:
        left = _run_pool([[p]], 1, root, search, box_filter, collect)
        if left:
            collect([_failed(p, 'the worker process died on this image (crash in the decoder '
                             'or in selective search)')])


def _run_pool(chunks, workers, root, search, box_filter, collect) -> List[str]:
    """Run chunks in a process pool; returns the images of chunks lost to a dead worker."""
    # Workers come from a fresh server process, not a fork of this one: a fork copies OpenCV's
    # (and OpenMP's) thread pools in whatever state they are, and a child then deadlocks in its
    # first cv2 call when the parent had used cv2 (seen: writing the demo images, then
    # generating proposals in the same process, hung with idle workers).
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context('forkserver' if 'forkserver' in methods else 'spawn')
    lost: List[str] = []
    queue = list(reversed(chunks))
    window = max(2, workers * 4)
    while queue:
        broken = False
        # the workers' lifeline: they end when this end closes (see exit_with_parent)
        alive_r, alive_w = ctx.Pipe(duplex=False)
        try:
            with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                                     initargs=(root, search, box_filter, alive_r)) as pool:
                running = {}
                try:
                    while (queue or running) and not broken:
                        while queue and len(running) < window:
                            c = queue.pop()
                            running[pool.submit(_work, c)] = c
                        finished, _ = wait(running, return_when=FIRST_COMPLETED)
                        for fut in finished:
                            c = running.pop(fut)
                            try:
                                collect(fut.result())
                            except BrokenProcessPool:
                                broken = True
                                lost.extend(c)
                    if broken:
                        for fut, c in running.items():
                            try:
                                collect(fut.result())
                            except BrokenProcessPool:
                                lost.extend(c)
                        running.clear()
                except BaseException:
                    for fut in running:
                        fut.cancel()
                    alive_w.close()  # stop the workers now, busy or not
                    raise
        finally:
            alive_w.close()
            alive_r.close()
    return lost


def _merge(out, report_path, parts_dir, num_shards, manifest, fingerprint, computed, wall):
    """Concatenate the shards into the output file and write the report."""
    files = [osp.join(parts_dir, SHARD_FORMAT.format(i)) for i in range(num_shards)]
    failed, notes = [], {}
    raw = seconds = 0.0
    levels = np.zeros(256, dtype=np.int64)
    level_images = {LEVEL_RATIO_ONLY: [], LEVEL_UNFILTERED: [], LEVEL_EMPTY: []}
    for path in files:
        store = _load_shard(path)
        meta = store.meta
        failed += meta['failed']
        notes.update(meta['notes'])
        raw += meta['raw_boxes']
        seconds += meta['seconds']
        lv = store.arrays()['levels']
        levels += np.bincount(lv, minlength=256)
        for level, names in level_images.items():
            names += [store.key_at(i) for i in np.flatnonzero(lv == level)]
    n_ok = int(levels.sum())

    def part(path):
        return lambda: _load_shard(path).arrays()

    counts = dict(filtered=int(levels[LEVEL_FILTERED]), ratio_only=int(levels[LEVEL_RATIO_ONLY]),
                  unfiltered=int(levels[LEVEL_UNFILTERED]), empty=int(levels[LEVEL_EMPTY]),
                  failed=len(failed))
    meta = dict(tool=TOOL, fingerprint=fingerprint, source=manifest['source'],
                root=manifest['root'], settings=manifest['settings'], counts=counts,
                created=time.strftime('%Y-%m-%dT%H:%M:%S'))
    write_arrays(out, [part(p) for p in files], meta)
    store = ProposalStore.load(out)

    converted: Dict[str, List[str]] = {}
    for path, what in sorted(notes.items()):
        for w in what:
            converted.setdefault(w, []).append(path)
    report = dict(
        output=out,
        source=manifest['source'],
        root=manifest['root'],
        images=manifest['images'],
        with_proposals=n_ok - counts['empty'],
        counts=counts,
        failed=[dict(path=p, reason=r) for p, r in failed],
        empty=level_images[LEVEL_EMPTY],
        fallback=dict(ratio_only=level_images[LEVEL_RATIO_ONLY],
                      unfiltered=level_images[LEVEL_UNFILTERED]),
        converted={k: dict(count=len(v), images=v) for k, v in sorted(converted.items())},
        boxes=dict(kept_total=store.num_boxes,
                   kept_per_image=store.num_boxes / max(n_ok, 1),
                   raw_per_image=raw / max(n_ok, 1)),
        timing=dict(images_computed_this_run=computed, wall_seconds_this_run=round(wall, 2),
                    images_per_second_this_run=round(computed / wall, 2) if wall > 0 else None,
                    cpu_seconds_per_image=round(seconds / max(manifest['images'], 1), 4)),
        settings=manifest['settings'],
    )
    tmp = report_path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(report, f, indent=1)
    os.replace(tmp, report_path)
    return report
