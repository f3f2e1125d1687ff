"""Merge a run's shards into the proposals file, in shard order, streaming one shard at a time."""
import time
from typing import Dict, List, NamedTuple, Sequence

import numpy as np

from data_prep.filters import LEVEL_EMPTY, LEVEL_FILTERED, LEVEL_RATIO_ONLY, LEVEL_UNFILTERED
from data_prep.shards import load_shard
from data_prep.storage import write_arrays


class ShardTotals(NamedTuple):
    """What the shards' meta and levels add up to."""
    failed: List[list]  # [path, reason] of every image that failed
    notes: Dict[str, List[str]]  # path -> conversions applied while reading
    raw_boxes: float  # boxes selective search proposed, before filtering
    seconds: float  # time spent on the images
    levels: np.ndarray  # int64 (256,): images per filter level
    level_images: Dict[int, List[str]]  # the images of the fallback and empty levels
    counts: Dict[str, int]  # images per outcome: filtered, ratio_only, unfiltered, empty, failed


def shard_totals(files: Sequence[str]) -> ShardTotals:
    """Add up the shards' meta and levels."""
    failed, notes = [], {}
    raw = seconds = 0.0
    levels = np.zeros(256, dtype=np.int64)
    level_images = {LEVEL_RATIO_ONLY: [], LEVEL_UNFILTERED: [], LEVEL_EMPTY: []}
    for path in files:
        store = load_shard(path)
        meta = store.meta
        failed += meta['failed']
        notes.update(meta['notes'])
        raw += meta['raw_boxes']
        seconds += meta['seconds']
        lv = store.arrays()['levels']
        levels += np.bincount(lv, minlength=256)
        for level, names in level_images.items():
            names += [store.key_at(i) for i in np.flatnonzero(lv == level)]
    counts = dict(filtered=int(levels[LEVEL_FILTERED]), ratio_only=int(levels[LEVEL_RATIO_ONLY]),
                  unfiltered=int(levels[LEVEL_UNFILTERED]), empty=int(levels[LEVEL_EMPTY]),
                  failed=len(failed))
    return ShardTotals(failed, notes, raw, seconds, levels, level_images, counts)


def merge_shards(out: str, files: Sequence[str], meta: dict) -> ShardTotals:
    """Concatenate the shard files into ``out`` (written atomically).

    Args:
        out (str): The proposals file.
        files (sequence[str]): The shards, in order.
        meta (dict): Stored in the file, with the shards' ``counts`` and the ``created`` time.

    Returns:
        ShardTotals: What the shards add up to (for the report).
    """
    totals = shard_totals(files)

    def part(path):
        return lambda: load_shard(path).arrays()

    meta = dict(meta, counts=totals.counts, created=time.strftime('%Y-%m-%dT%H:%M:%S'))
    write_arrays(out, [part(p) for p in files], meta)
    return totals
