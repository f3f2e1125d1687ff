"""Shard bookkeeping of a proposals run: names, the settings fingerprint, which shards a part
computes, and whether a shard on disk is complete.

A run cuts its sorted image list into shards of ``shard_size`` images; a shard is written
(temporary name, then renamed) as soon as all its images are in, so a file named
``shard-*.npz`` is always complete, and a re-run recomputes only the shards that are missing.
"""
import hashlib
import json
import os
import os.path as osp
import warnings
from typing import Iterable, List, Optional, Sequence, Tuple

from data_prep.image_work import ImageResult
from data_prep.storage import ProposalStore

SHARD_FORMAT = 'shard-{:06d}.npz'


def output_paths(out: str) -> Tuple[str, str]:
    """(parts folder, report file) that go with an output file."""
    stem = out[:-4] if out.lower().endswith('.npz') else out
    return stem + '.parts', stem + '.report.json'


def fingerprint(paths: Sequence[str], settings: dict) -> str:
    """sha1 of the settings and the image list: what a resume and a merge must agree on."""
    h = hashlib.sha1()
    h.update(json.dumps(settings, sort_keys=True).encode())
    for p in paths:
        h.update(p.encode('utf-8') + b'\n')
    return h.hexdigest()


def part_shards(num_shards: int, part: Optional[Tuple[int, int]]) -> range:
    """The shards part ``(i, n)`` computes: the i-th of n contiguous, near-equal blocks."""
    if part is None:
        return range(num_shards)
    i, n = part
    return range(i * num_shards // n, (i + 1) * num_shards // n)


def shard_path(parts_dir: str, shard: int) -> str:
    return osp.join(parts_dir, SHARD_FORMAT.format(shard))


def load_shard(path: str) -> ProposalStore:
    """A shard; one of an older format version is read into memory without a warning."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        return ProposalStore.load(path)


def shard_ok(path: str, expected: Sequence[str], fingerprint: str) -> bool:
    """A shard file is done when it opens and covers exactly its images."""
    try:
        store = load_shard(path)
        meta = store.meta
        failed = {p for p, _ in meta.get('failed', [])}
        if meta.get('fingerprint') != fingerprint:
            return False
        return list(store.keys()) == [p for p in expected if p not in failed] and \
            len(store) + len(failed) == len(expected)
    except Exception:  # noqa: BLE001 - anything unreadable is simply redone
        return False


def write_shard(path: str, results: List[ImageResult], shard: int, fingerprint: str) -> None:
    """Write one shard: the boxes of its images, and in its meta their failures and notes."""
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


def remove_partial_shards(parts_dir: str, shards: Iterable[int]) -> None:
    """Remove the temporary files a killed writer of one of ``shards`` left behind."""
    shards = set(shards)
    for name in os.listdir(parts_dir):
        if name.endswith('.tmp') and name.startswith('shard-'):
            try:
                shard = int(name[len('shard-'):].split('.')[0])
            except ValueError:
                continue
            if shard in shards:
                os.unlink(osp.join(parts_dir, name))


def ranges(numbers: Sequence[int]) -> str:
    """'0-3, 7, 9-10' for [0, 1, 2, 3, 7, 9, 10]."""
    spans = []
    for k in numbers:
        if spans and spans[-1][1] == k - 1:
            spans[-1][1] = k
        else:
            spans.append([k, k])
    return ', '.join(str(a) if a == b else f'{a}-{b}' for a, b in spans)
