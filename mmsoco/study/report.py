"""The study's outputs: ``results.json``, ``results.md`` and ``loss_curves.png``.

The AP table has one row per arm and seed and one mean row per arm (AP, AP50, AP75 in percent,
from mmdet's ``CocoMetric``, which rounds to 0.1 AP).  The stage table gives each stage's
wall-clock seconds as its marker recorded them (stages kept from an earlier run say so).  The loss
curves are read from the scalars the pretraining and fine-tuning Runners logged
(``<run>/<timestamp>/vis_data/scalars.json``; a resumed run adds a timestamp folder and its
points replace the earlier ones from where it resumed).
"""
import glob
import json
import math
import os.path as osp
from typing import Callable, Dict, List, Sequence

from .stages import StageRecord

METRIC_KEYS = ('AP', 'AP50', 'AP75')


def read_scalars(work_dir: str, key: str = 'loss') -> List[tuple]:
    """``(step, value)`` of one logged scalar of a Runner's work dir, by step.

    Returns:
        list[tuple[int, float]]: Sorted by step; a later run's point wins at equal step.
    """
    points = {}
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                entry = json.loads(line)
                if key in entry and 'step' in entry:
                    points[int(entry['step'])] = float(entry[key])
    return sorted(points.items())


def summarise(records: Dict[str, StageRecord], arms: Sequence[str],
              seeds: Sequence[int]) -> dict:
    """Per arm: the metrics of each seed and their mean."""
    table = {}
    for arm in arms:
        per_seed = {}
        for seed in seeds:
            rec = records.get(f'evaluate_{arm}_seed{seed}')
            if rec is not None:
                per_seed[str(seed)] = {k: rec.outputs[k] for k in METRIC_KEYS + (
                    'no_detections', )}
        mean = None
        if per_seed:
            mean = {k: round(sum(r[k] for r in per_seed.values()) / len(per_seed), 2)
                    for k in METRIC_KEYS}
        table[arm] = dict(seeds=per_seed, mean=mean)
    return table


def _markdown(table: dict, records: Dict[str, StageRecord], settings: dict) -> str:
    lines = ['# Transfer study results', '',
             'Faster R-CNN R50-FPN (4conv1fc box head, BN), bbox AP on the val json '
             '(mmdet CocoMetric, percent).', '',
             '| arm | seed | AP | AP50 | AP75 |', '|---|---|---|---|---|']
    for arm, entry in table.items():
        for seed, row in entry['seeds'].items():
            note = ' (no detections)' if row['no_detections'] else ''
            lines.append(f'| {arm} | {seed} | {row["AP"]:.1f}{note} | {row["AP50"]:.1f} | '
                         f'{row["AP75"]:.1f} |')
        if entry['mean'] is not None:
            m = entry['mean']
            lines.append(f'| **{arm}** | mean of {len(entry["seeds"])} | **{m["AP"]:.2f}** | '
                         f'{m["AP50"]:.2f} | {m["AP75"]:.2f} |')
    lines += ['', '## Stages (wall-clock)', '', '| stage | seconds | note |', '|---|---|---|']
    total = 0.
    for name, rec in records.items():
        total += rec.seconds
        lines.append(f'| {name} | {rec.seconds:.1f} | '
                     f'{"kept from an earlier run" if rec.kept else ""} |')
    lines += [f'| **total** | **{total:.1f}** | |', '', '## Settings', '', '```json',
              json.dumps(settings, indent=1), '```', '']
    return '\n'.join(lines)


def plot_losses(work_dir: str, arms: Sequence[str], seeds: Sequence[int], out: str) -> dict:
    """Pretraining loss (one panel per pretrained arm) and fine-tuning loss (all arms/seeds).

    Returns:
        dict: run name -> number of points plotted.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    pretrained = [a for a in arms if a != 'scratch']
    panels = len(pretrained) + 1
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 3.6), squeeze=False)
    counts = {}
    for ax, arm in zip(axes[0], pretrained):
        pts = read_scalars(osp.join(work_dir, 'pretrain', arm))
        counts[f'pretrain_{arm}'] = len(pts)
        if pts:
            ax.plot(*zip(*pts), marker='.' if len(pts) < 30 else None)
        ax.set_title(f'{arm.upper()} pretraining loss')
        ax.set_xlabel('iteration')
        ax.set_ylabel('loss')
        ax.grid(alpha=0.3)
    ax = axes[0][-1]
    for arm in arms:
        for seed in seeds:
            pts = read_scalars(osp.join(work_dir, 'finetune', f'{arm}_seed{seed}'))
            counts[f'finetune_{arm}_seed{seed}'] = len(pts)
            if pts:
                ax.plot(*zip(*pts), label=f'{arm} seed {seed}',
                        marker='.' if len(pts) < 30 else None)
    ax.set_title('Faster R-CNN fine-tuning loss')
    ax.set_xlabel('iteration')
    ax.set_ylabel('loss')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return counts


def write_report(work_dir: str, settings: dict, arms: Sequence[str], seeds: Sequence[int],
                 records: Dict[str, StageRecord], log: Callable[[str], None] = print) -> dict:
    """Write ``results.json``, ``results.md`` and ``loss_curves.png`` into ``work_dir``.

    Raises:
        ValueError: A metric is not finite (it would make the table meaningless).
    """
    table = summarise(records, arms, seeds)
    for arm, entry in table.items():
        for seed, row in entry['seeds'].items():
            bad = [k for k in METRIC_KEYS if not math.isfinite(row[k])]
            if bad:
                raise ValueError(f'{arm} seed {seed}: non-finite {bad}')
    curves = osp.join(work_dir, 'loss_curves.png')
    points = plot_losses(work_dir, arms, seeds, curves)
    result = dict(settings=settings, results=table,
                  stages=[dict(name=r.name, seconds=r.seconds, kept=r.kept,
                               finished=r.finished) for r in records.values()],
                  total_seconds=round(sum(r.seconds for r in records.values()), 2),
                  loss_points=points,
                  files=dict(markdown=osp.join(work_dir, 'results.md'), curves=curves))
    with open(osp.join(work_dir, 'results.json'), 'w') as f:
        json.dump(result, f, indent=1)
    md = _markdown(table, records, settings)
    with open(osp.join(work_dir, 'results.md'), 'w') as f:
        f.write(md)
    log(md)
    log(f'written: {work_dir}/results.json, results.md, loss_curves.png')
    return result
