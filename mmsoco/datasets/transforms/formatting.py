"""Packing of SoCo samples for ``default_collate`` and ``SelfSupDataPreprocessor``."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import InstanceData

from mmsoco.host import DataSample
from mmsoco.registry import TRANSFORMS


@TRANSFORMS.register_module()
class PackSoCoInputs(BaseTransform):
    """Pack the views and their box sets as the SoCo algorithm consumes them.

    Returns ``dict(inputs=[view_1, ..., view_V], data_samples=DataSample)``: each view a
    uint8 (3, h, w) tensor, BGR like mmselfsup's ``PackSelfSupInputs`` (the data preprocessor's
    ``bgr_to_rgb`` and mean/std apply), in the order V1, V2, V3(, V4).  The data sample holds the
    S box sets of :class:`BaseSoCoViews` (one layout for both recipes):

    - ``view_bboxes``: float32 (S, K, 4), x1, y1, x2, y2 in the set's view's pixels (after flip);
    - ``proposal_ids``: int64 (S, K), the index of each box's proposal in the image's proposal
      list (-1 for the whole-image fallback); box k is the same proposal in the sets of a pair;
    - ``proposal_valid``: bool (S, K), False for the repeats that pad to K;

    and in its metainfo ``box_sets`` (list of S ``(view, pair)``, ``pair=None``: every pair of the
    view), ``sample_idx`` as mmselfsup stores it (``InstanceData(value=tensor([idx]))``), and
    the metainfo named by ``meta_keys`` that the results have.

    Required keys: ``img`` (list of uint8 (h, w, 3)), ``view_bboxes``, ``view_proposal_ids``,
    ``proposal_valid``.  Optional keys: ``box_sets`` (default: one set per view, for all its
    pairs).

    Args:
        meta_keys (sequence[str]): Keys copied into the data sample's metainfo when present.
            ``fallbacks`` (kind -> count, see :class:`FallbackCounter`) is present only on
            samples that carry fallbacks. Defaults to ``('img_path', 'ori_shape',
            'view_shapes', 'view_flips', 'fallbacks')``.
    """

    def __init__(self, meta_keys: Sequence[str] = ('img_path', 'ori_shape', 'view_shapes',
                                                   'view_flips', 'fallbacks')) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        views = results['img']
        if not isinstance(views, (list, tuple)):
            raise TypeError('PackSoCoInputs expects a list of views in results["img"]; '
                            'put SoCoViews or SoCoOriginalViews before it in the pipeline')
        inputs = []
        for view in views:
            view = view[..., None] if view.ndim == 2 else view
            inputs.append(torch.from_numpy(np.ascontiguousarray(view.transpose(2, 0, 1))))

        data_sample = DataSample()
        data_sample.set_field(
            torch.from_numpy(np.asarray(results['view_bboxes'], np.float32)), 'view_bboxes')
        data_sample.set_field(
            torch.from_numpy(np.asarray(results['view_proposal_ids'], np.int64)), 'proposal_ids')
        data_sample.set_field(torch.from_numpy(np.asarray(results['proposal_valid'], bool)),
                              'proposal_valid')
        sets = results.get('box_sets') or [(v, None) for v in range(len(views))]
        data_sample.set_metainfo(dict(box_sets=list(sets)))
        if 'sample_idx' in results:
            data_sample.sample_idx = InstanceData(value=torch.tensor([results['sample_idx']]))
        data_sample.set_metainfo({k: results[k] for k in self.meta_keys if k in results})
        return dict(inputs=inputs, data_samples=data_sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
