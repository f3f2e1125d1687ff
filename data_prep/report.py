"""The report of a proposals run, ``<out>.report.json``: failures, empty images, fallbacks,
conversions, box counts and timing."""
import json
from typing import Dict, List

from data_prep.atomic_write import atomic_write
from data_prep.filters import LEVEL_EMPTY, LEVEL_RATIO_ONLY, LEVEL_UNFILTERED
from data_prep.merge import ShardTotals
from data_prep.storage import ProposalStore


def build_report(out: str, manifest: dict, totals: ShardTotals, computed: int,
                 wall: float) -> dict:
    """The report of the merged file ``out``.

    Args:
        out (str): The proposals file.
        manifest (dict): The run's manifest (source, root, image count, settings).
        totals (ShardTotals): What the shards added up to.
        computed (int): Images computed by this run (not taken from earlier shards).
        wall (float): Seconds this run spent computing.
    """
    store = ProposalStore.load(out)
    n_ok = int(totals.levels.sum())
    counts = totals.counts
    converted: Dict[str, List[str]] = {}
    for path, what in sorted(totals.notes.items()):
        for w in what:
            converted.setdefault(w, []).append(path)
    level_images = totals.level_images
    return dict(
        output=out,
        source=manifest['source'],
        root=manifest['root'],
        images=manifest['images'],
        with_proposals=n_ok - counts['empty'],
        counts=counts,
        failed=[dict(path=p, reason=r) for p, r in totals.failed],
        empty=level_images[LEVEL_EMPTY],
        fallback=dict(ratio_only=level_images[LEVEL_RATIO_ONLY],
                      unfiltered=level_images[LEVEL_UNFILTERED]),
        converted={k: dict(count=len(v), images=v) for k, v in sorted(converted.items())},
        boxes=dict(kept_total=store.num_boxes,
                   kept_per_image=store.num_boxes / max(n_ok, 1),
                   raw_per_image=totals.raw_boxes / max(n_ok, 1)),
        timing=dict(images_computed_this_run=computed, wall_seconds_this_run=round(wall, 2),
                    images_per_second_this_run=round(computed / wall, 2) if wall > 0 else None,
                    cpu_seconds_per_image=round(totals.seconds / max(manifest['images'], 1),
                                                4)),
        settings=manifest['settings'],
    )


def write_report(path: str, report: dict) -> None:
    with atomic_write(path) as f:
        json.dump(report, f, indent=1)
