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
from typing import Callable, Dict, List, Optional, Sequence

from .metrics import METRICS
from .stages import StageRecord

#: the metrics :func:`~mmsoco.study.metrics.parse_metrics` records for each evaluation
METRIC_KEYS = tuple(METRICS)


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
              seeds: Sequence[int], prefix: str = '',
              metric_keys: Sequence[str] = METRIC_KEYS) -> dict:
    """Per arm: the metrics of each seed (stage ``evaluate_<prefix><arm>_seed<s>``), the mean."""
    table = {}
    for arm in arms:
        per_seed = {}
        for seed in seeds:
            rec = records.get(f'evaluate_{prefix}{arm}_seed{seed}')
            if rec is not None:
                per_seed[str(seed)] = {k: rec.outputs[k] for k in tuple(metric_keys) + (
                    'no_detections', ) if k in rec.outputs}
        mean = None
        if per_seed:
            mean = {k: round(sum(r[k] for r in per_seed.values()) / len(per_seed), 2)
                    for k in metric_keys}
        table[arm] = dict(seeds=per_seed, mean=mean)
    return table


def _markdown(table: dict, records: Dict[str, StageRecord], settings: dict,
              metric_keys: Sequence[str] = METRIC_KEYS, caption: Optional[str] = None,
              digits: int = 1) -> str:
    if caption is None:  # the detection task's
        caption = (f'Faster R-CNN R{settings.get("depth", 50)}-FPN (4conv1fc box head, BN), '
                   'bbox AP on the val json (mmdet CocoMetric, percent).')
    lines = ['# Transfer study results', '', caption, '',
             '| arm | seed | ' + ' | '.join(metric_keys) + ' |',
             '|---|---|' + '---|' * len(metric_keys)]
    for arm, entry in table.items():
        for seed, row in entry['seeds'].items():
            note = ' (no detections)' if row.get('no_detections') else ''
            cells = [f'{row[k]:.{digits}f}' for k in metric_keys]
            lines.append(f'| {arm} | {seed} | ' + ' | '.join([cells[0] + note] + cells[1:])
                         + ' |')
        if entry['mean'] is not None:
            m = entry['mean']
            cells = [f'{m[k]:.2f}' for k in metric_keys]
            lines.append(f'| **{arm}** | mean of {len(entry["seeds"])} | '
                         + ' | '.join([f'**{cells[0]}**'] + cells[1:]) + ' |')
    lines += ['', '## Stages (wall-clock)', '', '| stage | seconds | note |', '|---|---|---|']
    total = 0.
    for name, rec in records.items():
        total += rec.seconds
        lines.append(f'| {name} | {rec.seconds:.1f} | '
                     f'{"kept from an earlier run" if rec.kept else ""} |')
    lines += [f'| **total** | **{total:.1f}** | |', '', '## Settings', '', '```json',
              json.dumps(settings, indent=1), '```', '']
    return '\n'.join(lines)


def plot_losses(records: Dict[str, StageRecord], out: str, title: str = '',
                model: str = 'Faster R-CNN') -> dict:
    """Pretraining loss (one panel per pretraining run) and fine-tuning loss (every run).

    The runs are the training stages among ``records`` (``pretrain_<arm>``,
    ``finetune_...``), read from the work dir each recorded.

    Returns:
        dict: stage name -> number of points plotted.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    runs = {name: rec.outputs['work_dir'] for name, rec in records.items()
            if name.startswith(('pretrain_', 'finetune_')) and 'work_dir' in rec.outputs}
    pretrain = [name for name in runs if name.startswith('pretrain_')]
    panels = len(pretrain) + 1
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 3.6), squeeze=False)
    counts = {}
    for ax, name in zip(axes[0], pretrain):
        pts = read_scalars(runs[name])
        counts[name] = len(pts)
        if pts:
            ax.plot(*zip(*pts), marker='.' if len(pts) < 30 else None)
        ax.set_title(f'{name[len("pretrain_"):].upper()} pretraining loss')
        ax.set_xlabel('iteration')
        ax.set_ylabel('loss')
        ax.grid(alpha=0.3)
    ax = axes[0][-1]
    for name in runs:
        if name.startswith('finetune_'):
            pts = read_scalars(runs[name])
            counts[name] = len(pts)
            if pts:
                ax.plot(*zip(*pts), label=name[len('finetune_'):].replace('_', ' '),
                        marker='.' if len(pts) < 30 else None)
    ax.set_title(f'{model} fine-tuning loss{" (" + title + ")" if title else ""}')
    ax.set_xlabel('iteration')
    ax.set_ylabel('loss')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return counts


def write_report(work_dir: str, settings: dict, arms: Sequence[str], seeds: Sequence[int],
                 records: Dict[str, StageRecord], log: Callable[[str], None] = print,
                 run_name: str = None, metric_keys: Sequence[str] = METRIC_KEYS,
                 caption: Optional[str] = None, digits: int = 1,
                 model: str = 'Faster R-CNN') -> dict:
    """Write ``results.json``, ``results.md`` and ``loss_curves.png`` into ``work_dir``.

    With ``run_name`` (see :attr:`~mmsoco.study.study.StudySettings.run_name`) the files are
    ``results_<run_name>.json`` ... and the stages read are
    ``evaluate_<run_name>_<arm>_seed<s>``.  ``metric_keys``, ``caption``, ``digits`` (per-seed
    decimals) and ``model`` (the loss plot's title) default to the detection task's; the
    segmentation task (:mod:`mmsoco.study.seg_study`) passes its own.

    Raises:
        ValueError: A metric is not finite (it would make the table meaningless).
    """
    prefix, suffix = (f'{run_name}_', f'_{run_name}') if run_name else ('', '')
    table = summarise(records, arms, seeds, prefix, metric_keys)
    for arm, entry in table.items():
        for seed, row in entry['seeds'].items():
            bad = [k for k in metric_keys if not math.isfinite(row[k])]
            if bad:
                raise ValueError(f'{arm} seed {seed}: non-finite {bad}')
    curves = osp.join(work_dir, f'loss_curves{suffix}.png')
    points = plot_losses(records, curves, run_name or '', model)
    files = dict(json=osp.join(work_dir, f'results{suffix}.json'),
                 markdown=osp.join(work_dir, f'results{suffix}.md'), curves=curves)
    result = dict(settings=settings, results=table,
                  stages=[dict(name=r.name, seconds=r.seconds, kept=r.kept,
                               finished=r.finished) for r in records.values()],
                  total_seconds=round(sum(r.seconds for r in records.values()), 2),
                  loss_points=points, files=files)
    with open(files['json'], 'w') as f:
        json.dump(result, f, indent=1)
    md = _markdown(table, records, settings, metric_keys, caption, digits)
    with open(files['markdown'], 'w') as f:
        f.write(md)
    log(md)
    log(f'written: {", ".join(files.values())}')
    return result
