"""The metrics the study records for each evaluation, and how they are read from mmdet's
``CocoMetric``.  Both the study (which records them) and its report (which tabulates them)
import this module; neither imports the other for it."""
from collections import OrderedDict
from typing import Dict

#: short name -> ``CocoMetric`` key, in table order
METRICS = OrderedDict([('AP', 'coco/bbox_mAP'), ('AP50', 'coco/bbox_mAP_50'),
                       ('AP75', 'coco/bbox_mAP_75')])


def parse_metrics(metrics: Dict[str, float]) -> dict:
    """AP, AP50, AP75 in percent from ``CocoMetric``'s results.

    mmdet's ``CocoMetric`` returns no bbox keys when the detector made no detection at all on
    the val set (it logs "The testing results of the whole dataset is empty"); that is recorded
    as AP 0 with ``no_detections=True`` (nothing detected: recall 0).

    Raises:
        RuntimeError: Some but not all of the keys are there (an unexpected metric layout).
    """
    found = [k for k in METRICS.values() if k in metrics]
    if not found:
        return dict({k: 0.0 for k in METRICS}, no_detections=True)
    if len(found) != len(METRICS):
        raise RuntimeError(f'CocoMetric returned {sorted(metrics)}: expected '
                           f'{list(METRICS.values())}')
    return dict({k: round(100 * float(metrics[v]), 1) for k, v in METRICS.items()},
                no_detections=False)
