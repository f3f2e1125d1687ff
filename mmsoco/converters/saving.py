"""Save a converted checkpoint: one writer for every torch target.

Each conversion (:class:`~.to_mmdet.Conversion`, :class:`~.to_mmseg.SegConversion`,
:class:`~.from_original.OriginalConversion`, :class:`~.init_checkpoint.InitConversion`) names
its own ``meta`` entry (``META_KEY``) and what goes in it (``saved_info()``); the file is always
``{'state_dict': ..., 'meta': {META_KEY: info, **meta}}``, plain types only, so it loads with
torch's weights-only default (``load_from``, ``init_cfg=dict(type='Pretrained')``, the other
converters).  The Detectron2 target is a pickle of numpy arrays, written by
:func:`~.to_detectron2.save_detectron2_pickle`.
"""
import os
import os.path as osp
from typing import Optional

import torch


def save_conversion(conv, path: str, meta: Optional[dict] = None) -> None:
    """Write ``conv.state_dict`` with its description in ``meta``.

    Args:
        conv: A conversion: ``state_dict`` (dict[str, Tensor]), ``META_KEY`` (str) and
            ``saved_info()`` (dict of plain types).
        path (str): Output ``.pth``; its folder is made if missing.
        meta (dict, optional): More entries for ``meta`` (e.g. the source path).
    """
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    torch.save({'state_dict': conv.state_dict,
                'meta': {conv.META_KEY: conv.saved_info(), **(meta or {})}}, path)
