"""Image loading that turns an unreadable image into a logged, counted skip."""
import logging
from typing import Optional

from mmcv.transforms import LoadImageFromFile
from mmengine.logging import print_log

from mmsoco.registry import TRANSFORMS
from ..fallbacks import FallbackCounter


@TRANSFORMS.register_module()
class LoadImageOrSkip(LoadImageFromFile):
    """:class:`mmcv.transforms.LoadImageFromFile` that skips images it cannot read.

    A corrupt, truncated or vanished file (one the proposal stage may already have reported) is
    logged with its path, counted in ``fallbacks['unreadable']`` and the transform returns
    ``None``; mmengine's ``BaseDataset`` then draws another sample, so one bad file never stops
    a run and is never dropped silently.

    Args:
        log_interval (int): Samples between two summaries of the count. Defaults to 1000.
        **kwargs: Arguments of :class:`LoadImageFromFile`.
    """

    def __init__(self, log_interval: int = 1000, **kwargs) -> None:
        super().__init__(**kwargs)
        self.fallbacks = FallbackCounter(
            'LoadImageOrSkip',
            dict(unreadable='an image could not be read: skipped, another sample is drawn'),
            log_interval)

    def transform(self, results: dict) -> Optional[dict]:
        self.fallbacks.step()
        try:
            results = super().transform(results)
        except Exception as e:  # mmcv raises OSError, AssertionError, cv2.error, ...
            self.fallbacks.add('unreadable')
            print_log(f"LoadImageOrSkip: skipped unreadable image '{results.get('img_path')}' "
                      f'({type(e).__name__}: {e})', logger='current', level=logging.WARNING)
            return None   # the count stays pending and travels with this worker's next sample
        return self.fallbacks.attach(results) if results is not None else None
