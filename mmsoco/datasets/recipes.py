"""The SoCo data recipe as config dicts, for tools, benchmarks and tests.

Configs spell the same dicts out (see ``docs/data_pipeline.md``); these helpers build them so the
visualisation tool and the benchmark run exactly the recipe a config would.
"""
import copy
from typing import List, Optional


def byol_view_transforms(first_view: bool, box_jitter: bool = True,
                         box_cutout: bool = False) -> List[dict]:
    """One view's sub-pipeline: BYOL's augmentations without the crop, plus the box ones.

    Args:
        first_view (bool): BYOL's first view (blur p=1.0, no solarize) or the others (blur 0.1,
            solarize 0.2).
        box_jitter (bool): Add :class:`BoxJitter` (p=0.5, r ~ U[-0.1, 0.1]).
        box_cutout (bool): Add :class:`BoxCutout` (original code, not in the paper).
    """
    transforms = [dict(type='BoxAwareRandomFlip', prob=0.5)]
    if box_jitter:
        transforms.append(dict(type='BoxJitter', prob=0.5, ratio=0.1))
    transforms += [
        dict(type='FastColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1,
             prob=0.8),
        dict(type='FastGrayscale', prob=0.2),
        dict(type='FastGaussianBlur', sigma_min=0.1, sigma_max=2.0,
             prob=1.0 if first_view else 0.1),
        dict(type='FastSolarize', threshold=128, prob=0.0 if first_view else 0.2),
    ]
    if box_cutout:
        transforms.append(dict(type='BoxCutout', prob=0.5))
    return transforms


def paper_views(num_views: int = 3) -> List[dict]:
    """The paper's view specs: V1 224 (whole), V2 224 (crop), V3 = V2 at 112, SoCo*'s V4 192
    (another crop)."""
    assert num_views in (2, 3, 4)
    views = [dict(kind='whole', size=224), dict(kind='crop', size=224, scale=(0.5, 1.0)),
             dict(kind='downsample', size=112, source=1),
             dict(kind='crop', size=192, scale=(0.5, 1.0))]
    return views[:num_views]


def soco_train_pipeline(num_views: int = 3,
                        num_proposals: int = 4,
                        jitter_views: Optional[List[int]] = None,
                        box_cutout: bool = False,
                        **view_kwargs) -> List[dict]:
    """The SoCo training pipeline: load, K proposals, views V1-V3 (V4), BYOL augs, pack.

    Args:
        num_views (int): 3 (SoCo) or 4 (SoCo*, adds V4 at 192x192).
        num_proposals (int): K. Defaults to 4.
        jitter_views (list[int], optional): Views (0-based) whose boxes are jittered; default all
            but V1.
        box_cutout (bool): Cut out part of each box in every view. Defaults to False.
        **view_kwargs: Other :class:`SoCoViews` arguments (``views``, ``crop_frame``...).
    """
    assert num_views in (3, 4)
    if jitter_views is None:
        jitter_views = list(range(1, num_views))
    view_transforms = [
        byol_view_transforms(i == 0, i in jitter_views, box_cutout) for i in range(num_views)
    ]
    views = dict(type='SoCoViews', views=paper_views(num_views), view_transforms=view_transforms)
    views.update(copy.deepcopy(view_kwargs))
    return [
        dict(type='LoadImageOrSkip'),
        dict(type='SelectProposals', num_proposals=num_proposals),
        views,
        dict(type='PackSoCoInputs'),
    ]
