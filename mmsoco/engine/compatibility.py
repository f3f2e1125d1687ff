"""The one check of a config's model against its training data: RoI pooling vs box sets.

``tools/train.py`` (through :func:`mmsoco.engine.preflight.preflight`) and the launcher's
preflight (``tools/dist_train.sh`` runs ``train.py --check``) both call :func:`pooling_error`;
the model applies the same rule (:func:`mmsoco.models.algorithms.soco.pooling_error`) to the
box sets it receives.
"""
import inspect
from typing import Iterator, List, Optional


def dataset_pipelines(dataset) -> Iterator[List[dict]]:
    """Every pipeline of a dataset config (``ConcatDataset`` and wrappers included)."""
    if not isinstance(dataset, dict):
        return
    if isinstance(dataset.get('pipeline'), (list, tuple)):
        yield dataset['pipeline']
    for key in ('dataset', 'datasets'):
        inner = dataset.get(key)
        for sub in inner if isinstance(inner, (list, tuple)) else [inner]:
            yield from dataset_pipelines(sub)


def boxes_per_pair(transform: dict) -> bool:
    """Whether a pipeline step gives a shared view one box set per pair (its class's
    ``boxes_per_pair``, True for :class:`SoCoOriginalViews`)."""
    from mmsoco.registry import TRANSFORMS
    if not isinstance(transform, dict) or not isinstance(transform.get('type'), str):
        return False
    cls = TRANSFORMS.get(transform['type'])
    return bool(getattr(cls, 'boxes_per_pair', False))


def pooling_error(cfg) -> Optional[str]:
    """One line if the config's model cannot take its training data's boxes, else None.

    Args:
        cfg (Config): A pretraining config (``model`` and ``train_dataloader``).
    """
    import mmsoco  # noqa: F401  (registers the transforms looked up by type)
    from mmsoco.models.algorithms.soco import SoCo
    from mmsoco.models.algorithms.soco import pooling_error as model_rule

    model = cfg.get('model') or {}
    if model.get('type', 'SoCo').split('.')[-1] != 'SoCo':
        return None
    defaults = inspect.signature(SoCo).parameters
    loader = cfg.get('train_dataloader') or {}
    per_pair = any(boxes_per_pair(t) for pipeline in dataset_pipelines(loader.get('dataset'))
                   for t in pipeline)
    return model_rule(model.get('roi_pooling', defaults['roi_pooling'].default),
                      model.get('view_pairs', defaults['view_pairs'].default), per_pair)
