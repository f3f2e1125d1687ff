"""Image collections with their object proposals, for SoCo pretraining."""
import logging
import os
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from mmsoco.registry import DATASETS

_PROPOSALS_HINT = ('compute proposals for this collection with the offline proposal stage, '
                   "e.g. 'python -m data_prep.generate_proposals <image folder> --out "
                   "<file>.npz', and set proposals_file")


def proposals_path(proposals_file: str, data_root: str = '') -> str:
    """Where a ``SoCoDataset`` looks for its proposals file: a relative path is taken from
    ``data_root``, unless only the path as given (from the working directory) exists."""
    if proposals_file and not osp.isabs(proposals_file) and data_root:
        joined = osp.join(data_root, proposals_file)
        if osp.exists(joined) or not osp.exists(proposals_file):
            return joined
    return proposals_file


@DATASETS.register_module()
class SoCoDataset(BaseDataset):
    """An image collection and its object proposals, one sample per image.

    The images are those of ``ann_file`` when given (a list file, e.g. ImageNet's ``train.txt``,
    or a COCO json such as ``instances_train2017.json`` or ``image_info_unlabeled2017.json``),
    otherwise every image file found under the image folder (``data_root`` joined with
    ``data_prefix['img_path']``), e.g. ImageNet's class folders.  Their proposals come from a
    ``data_prep.storage.ProposalStore`` file whose keys are the image paths relative to the image
    folder (paths relative to ``data_root`` are accepted too).

    Each data info holds ``img_path``, ``proposals`` (float32 (n, 4), x1, y1, x2, y2 in original
    image pixels), ``proposal_ids`` (int64 ``arange(n)``) and ``proposals_image_size`` ((w, h) the
    proposals were computed at).  Proposals are looked up in the store when a sample is fetched,
    so the serialized data list stays small.

    Images that have no entry in the proposals file are kept with no proposals (the pipeline then
    uses the whole image as the box) and counted in a warning; a proposals file that covers none
    of the images is an error.

    To pretrain on COCO train + unlabeled, concatenate two of these datasets
    (``ConcatDataset``), each with its json, image folder and proposals file.

    Args:
        data_root (str): Root of the collection. Defaults to ''.
        proposals_file (str): Proposals file, relative to ``data_root`` unless absolute.
        ann_file (str): List file or COCO json, relative to ``data_root`` unless absolute;
            '' scans the image folder. Defaults to ''.
        data_prefix (dict): ``img_path``: folder of the images, relative to ``data_root``.
            Defaults to ``dict(img_path='train/')``.
        pipeline (list): Transforms. Defaults to ().
        **kwargs: The other arguments of :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(self,
                 data_root: str = '',
                 proposals_file: str = '',
                 ann_file: str = '',
                 data_prefix: dict = dict(img_path='train/'),
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        self.proposals_file = proposals_file
        self.num_without_proposals = 0
        self._store = None
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix,
            pipeline=pipeline,
            **kwargs)

    # ------------------------------------------------------------------------------------------
    def _resolve_proposals_file(self) -> str:
        if not self.proposals_file:
            raise FileNotFoundError(f'SoCoDataset: no proposals_file given; {_PROPOSALS_HINT}.')
        path = proposals_path(self.proposals_file, self.data_root)
        tried = [path] + ([self.proposals_file] if path != self.proposals_file else [])
        if not osp.exists(path):
            raise FileNotFoundError(
                f"SoCoDataset: proposals file {' / '.join(map(repr, tried))} not found; "
                f'{_PROPOSALS_HINT} (relative paths are taken from data_root).')
        return path

    def _image_paths(self, img_root: str) -> List[str]:
        """Image paths relative to ``img_root``, listed as the proposal stage lists them."""
        from data_prep.collection import list_images

        if self.data_root and not osp.isdir(self.data_root):
            raise FileNotFoundError(
                f"SoCoDataset: data_root '{self.data_root}' does not exist; point data_root at "
                'the image collection (for example data/imagenet holding train/) or link the '
                'collection there.')
        if not osp.isdir(img_root):
            raise FileNotFoundError(
                f"SoCoDataset: image folder '{img_root}' (data_root + data_prefix['img_path']) "
                "does not exist; set data_prefix=dict(img_path=...) to the folder that holds "
                'the images.')
        if self.ann_file and not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f"SoCoDataset: ann_file '{self.ann_file}' not found; give a list file or a COCO "
                "json relative to data_root, or ann_file='' to scan the image folder.")
        try:
            if self.ann_file:
                return list_images(self.ann_file, root=img_root)
            return list_images(img_root)
        except (FileNotFoundError, ValueError) as e:
            raise type(e)(f'SoCoDataset: {e} (check data_root, data_prefix and ann_file)') from e

    def load_data_list(self) -> List[dict]:
        """Pair every image of the collection with its key in the proposals file."""
        from data_prep.storage import ProposalStore  # offline stage, numpy only

        img_root = self.data_prefix.get('img_path', '') or self.data_root
        paths = self._image_paths(img_root)
        proposals_file = self._resolve_proposals_file()
        self._store = ProposalStore.load(proposals_file)

        # keys are relative to the image folder; keys relative to data_root work too
        prefix = osp.relpath(img_root, self.data_root).replace(os.sep, '/') \
            if self.data_root else ''
        key_forms = [lambda p: p]
        if prefix and prefix != '.':
            key_forms.append(lambda p: f'{prefix}/{p}')
        hits = [self._count_known([form(p) for p in paths]) for form in key_forms]
        best = int(np.argmax(hits))
        keys = [key_forms[best](p) for p in paths]

        if hits[best] == 0:
            example = next(iter(self._store.keys()), None)
            raise ValueError(
                f"SoCoDataset: the proposals file '{proposals_file}' ({len(self._store)} "
                f"entries) covers none of the {len(paths)} images of '{self.ann_file or img_root}'"
                f'. Image keys look like {keys[0]!r}, its keys like {example!r}: the keys must '
                'be image paths relative to the image folder. Compute the proposals for this '
                'collection, or fix data_root / data_prefix / proposals_file.')
        self.num_without_proposals = len(paths) - hits[best]
        if self.num_without_proposals:
            missing = [k for k in keys if k not in self._store][:3]
            print_log(
                f'SoCoDataset: {self.num_without_proposals} of {len(paths)} images have no '
                f"entry in '{proposals_file}' (e.g. {missing}); they train with the whole image "
                'as their only box.', logger='current', level=logging.WARNING)

        return [
            dict(img_path=osp.join(img_root, path), proposals_key=key)
            for path, key in zip(paths, keys)
        ]

    def _count_known(self, keys: List[str]) -> int:
        if hasattr(self._store, 'find'):  # vectorised lookup (1.28M keys in a second)
            return int((self._store.find(keys) >= 0).sum())
        return sum(key in self._store for key in keys)

    def get_data_info(self, idx: int) -> dict:
        """The data info of sample ``idx`` with its proposals attached."""
        data_info = super().get_data_info(idx)
        key = data_info['proposals_key']
        if key in self._store:
            boxes = np.asarray(self._store[key], dtype=np.float32).reshape(-1, 4)
            size: Optional[tuple] = tuple(self._store.image_size(key))
            size = size if size[0] > 0 and size[1] > 0 else None  # (0, 0): size unknown
        else:
            boxes, size = np.zeros((0, 4), np.float32), None
        data_info['proposals'] = boxes
        data_info['proposal_ids'] = np.arange(len(boxes), dtype=np.int64)
        data_info['proposals_image_size'] = size
        return data_info
