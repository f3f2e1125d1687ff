from .fallbacks import FallbackCounter
from .recipes import byol_view_transforms, paper_views, soco_train_pipeline
from .soco_dataset import SoCoDataset
from .transforms import *  # noqa: F401,F403

__all__ = ['SoCoDataset', 'FallbackCounter', 'soco_train_pipeline', 'byol_view_transforms',
           'paper_views']
