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

The pieces, one file each: :mod:`data_prep.image_work` (one image), :mod:`data_prep.workers`
(the worker processes, which end with this one however it ends), :mod:`data_prep.pool` (the
crash-retrying pool), :mod:`data_prep.progress`, :mod:`data_prep.run_lock`,
:mod:`data_prep.shards` (shard bookkeeping), :mod:`data_prep.merge` and :mod:`data_prep.report`.
This module runs them in order.
"""
import json
import math
import os
import os.path as osp
import shutil
import signal
import time
from typing import Callable, Dict, List, Optional, Tuple

from data_prep.atomic_write import atomic_write
from data_prep.collection import list_images, resolve_source
from data_prep.filters import BoxFilter
from data_prep.image_work import ImageResult, process_image
from data_prep.merge import merge_shards
from data_prep.pool import run_isolated
from data_prep.progress import Progress
from data_prep.report import build_report, write_report
from data_prep.run_lock import lock_name, take_lock
from data_prep.selective_search import SelectiveSearch
from data_prep.shards import (SHARD_FORMAT, fingerprint as settings_fingerprint, output_paths,
                              part_shards, ranges, remove_partial_shards, shard_ok, shard_path,
                              write_shard)
from data_prep.storage import ProposalStore
from data_prep.workers import init_worker

__all__ = ['generate_proposals', 'output_paths', 'part_shards', 'SHARD_FORMAT', 'TOOL']

TOOL = 'data_prep.generate_proposals'


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
    fingerprint = settings_fingerprint(paths, settings)
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
    lock = take_lock(parts_dir, part)
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
            with atomic_write(manifest_path) as f:
                json.dump(manifest, f, indent=1)

        mine = part_shards(num_shards, part)
        remove_partial_shards(parts_dir, mine)  # leftovers of a killed writer of our shards
        done = {i: shard_ok(shard_path(parts_dir, i), shard_paths[i], fingerprint)
                for i in mine}
        todo_shards = [i for i in mine if not done[i]]
        if merge_only and todo_shards:
            raise RuntimeError(f'cannot merge {parts_dir}: {len(todo_shards)} of {num_shards} '
                               f'shards are not computed yet (shards {ranges(todo_shards)}); '
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
        bar = Progress(total, total - todo, progress)
        try:
            _run_shards(base, shard_paths, todo_shards, parts_dir, fingerprint, search,
                        box_filter, workers, bar)
        except KeyboardInterrupt:
            bar.close()
            finished = sum(osp.exists(shard_path(parts_dir, i)) for i in mine)
            log(f'interrupted: {finished} of {len(mine)} {what} are saved in {parts_dir}; run the '
                'same command again to compute the rest')
            raise
        bar.close()
        wall = time.time() - start

        if part is not None:
            left = sum(not osp.exists(shard_path(parts_dir, i)) for i in range(num_shards))
            log(f'part {part[0]}/{part[1]} done: shards {ranges(list(mine))} in {parts_dir}; '
                f'{left} of {num_shards} shards still to compute by other parts'
                + ('' if left else '; all there: run with --merge to write the output'))
            return dict(part=list(part), shards=[mine.start, mine.stop], images=total,
                        images_computed_this_run=todo, wall_seconds_this_run=round(wall, 2),
                        shards_missing_overall=left)

        meta = dict(tool=TOOL, fingerprint=fingerprint, source=manifest['source'],
                    root=manifest['root'], settings=manifest['settings'])
        totals = merge_shards(out, [shard_path(parts_dir, i) for i in range(num_shards)], meta)
        report = build_report(out, manifest, totals, todo, wall)
        write_report(report_path, report)
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
        elif name != lock_name(None):
            os.unlink(p)


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
                write_shard(shard_path(parts_dir, i), pending_shard.pop(i), i, fingerprint)
        bar.update(len(results), sum(r.error is not None for r in results))

    todo_paths = [p for i in todo_shards for p in shard_paths[i]]
    if workers <= 0:
        init_worker(root, search, box_filter)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for p in todo_paths:
            collect([process_image(root, p, search, box_filter)])
        return
    run_isolated(todo_paths, workers, root, search, box_filter, collect)
