"""Packing of SoCo samples for ``default_collate`` and ``SelfSupDataPreprocessor``."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import InstanceData
from mmselfsup.structures import SelfSupDataSample

from mmsoco.registry import TRANSFORMS


@TRANSFORMS.register_module()
class PackSoCoInputs(BaseTransform):
    """Pack the views and their boxes as the SoCo algorithm consumes them.

    Returns ``dict(inputs=[view_1, ..., view_V], data_samples=SelfSupDataSample)``: each view a
    uint8 (3, h, w) tensor, BGR like mmselfsup's ``PackSelfSupInputs`` (the data preprocessor's
    ``bgr_to_rgb`` and mean/std apply), in the order V1, V2, V3(, V4).  The data sample holds

    - ``view_bboxes``: float32 (V, K, 4), x1, y1, x2, y2 in each view's own pixels (after flip);
    - ``proposal_ids``: int64 (V, K), the index of each box's proposal in the image's proposal
      list (-1 for the whole-image fallback), identical in every view;
    - ``proposal_valid``: bool (K,), False for the repeats that pad to K;

    ``sample_idx`` as mmselfsup stores it (``InstanceData(value=tensor([idx]))``), and the
    metainfo named by ``meta_keys`` that the results have.

    From :class:`SoCoViews` with ``select='after_crop'`` (one box set per pair, V1 carrying one
    per pair), the data sample holds instead

    - ``pair_bboxes``: float32 (P, 2, K, 4), pair p's boxes in its first and its second view;
    - ``pair_proposal_ids``: int64 (P, K); ``pair_valid``: bool (P, K);

    and ``view_pairs`` (list of ``(a, b)``, the views of each pair) in its metainfo.

    Required keys: ``img`` (list of uint8 (h, w, 3)), and ``view_bboxes``,
    ``view_proposal_ids``, ``proposal_valid`` or ``pair_bboxes``, ``pair_proposal_ids``,
    ``pair_valid``, ``view_pairs``.

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
                            'put SoCoViews before it in the pipeline')
        inputs = []
        for view in views:
            view = view[..., None] if view.ndim == 2 else view
            inputs.append(torch.from_numpy(np.ascontiguousarray(view.transpose(2, 0, 1))))

        data_sample = SelfSupDataSample()
        if 'pair_bboxes' in results:
            for key, dtype in (('pair_bboxes', np.float32), ('pair_proposal_ids', np.int64),
                               ('pair_valid', bool)):
                data_sample.set_field(torch.from_numpy(np.asarray(results[key], dtype)), key)
            data_sample.set_metainfo(dict(view_pairs=[tuple(p) for p in results['view_pairs']]))
        else:
            data_sample.set_field(
                torch.from_numpy(np.asarray(results['view_bboxes'], np.float32)), 'view_bboxes')
            data_sample.set_field(
                torch.from_numpy(np.asarray(results['view_proposal_ids'], np.int64)),
                'proposal_ids')
            data_sample.set_field(torch.from_numpy(np.asarray(results['proposal_valid'], bool)),
                                  'proposal_valid')
        if 'sample_idx' in results:
            data_sample.sample_idx = InstanceData(value=torch.tensor([results['sample_idx']]))
        data_sample.set_metainfo({k: results[k] for k in self.meta_keys if k in results})
        return dict(inputs=inputs, data_samples=data_sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
