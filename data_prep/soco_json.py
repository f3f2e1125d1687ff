"""The original SoCo proposals JSON (image name -> list of [x, y, w, h]), in and out.

SoCo's released proposals are one JSON object keyed by image name; :func:`import_soco_json`
turns one into a proposals file (:mod:`data_prep.storage`) and :func:`export_soco_json` writes
a proposals file back in that layout.
"""
import json
import os.path as osp
from typing import Optional, Tuple, Union

import numpy as np

from data_prep.atomic_write import atomic_write
from data_prep.collection import list_images
from data_prep.storage import LEVEL_UNKNOWN, ProposalStore, encode_path


class _NameResolver:
    """Matches the names of a SoCo JSON to images under a folder and reads their sizes."""

    def __init__(self, image_root: str, report: dict) -> None:
        self.image_root = image_root
        self.report = report
        rel_paths = list_images(image_root)
        self.exact = set(rel_paths)
        self.by_name = {}
        for rel in rel_paths:
            self.by_name.setdefault(rel.rsplit('/', 1)[-1], []).append(rel)

    def resolve(self, name: str) -> Optional[str]:
        key = encode_path(name).decode('utf-8')
        if key in self.exact:
            return key
        hits = self.by_name.get(key.rsplit('/', 1)[-1], [])
        if len(hits) == 1:
            return hits[0]
        self.report['ambiguous' if hits else 'unmatched'].append(name)
        return None

    def size(self, rel: str) -> Tuple[int, int]:
        from data_prep.image_io import read_image_size  # OpenCV, only with image_root
        return read_image_size(osp.join(self.image_root, rel)) or (0, 0)


def import_soco_json(json_path: str, out_path: str, image_root: Optional[str] = None,
                     meta: Optional[dict] = None) -> dict:
    """Convert an original SoCo proposals JSON (image name -> list of [x, y, w, h]).

    Args:
        json_path (str): The JSON file.
        out_path (str): The proposals file to write.
        image_root (str, optional): Folder of the images. When given, each name is matched to
            an image under it (exactly, else by unique file name, for files keyed by bare file
            names), keys become paths relative to it, and image sizes are read from the files'
            headers. Names with no image are skipped and reported. Without it keys are kept as
            they are and sizes are stored as (0, 0), unknown.
        meta (dict, optional): Extra description stored in the file.

    Returns:
        dict: ``images`` written, ``boxes`` written, ``unmatched`` names (image_root only),
        ``ambiguous`` names (several files with that name).
    """
    with open(json_path) as f:
        try:
            data = json.load(f)
        except ValueError as e:
            raise ValueError(f'{json_path!r} is not JSON ({e})') from None
    if not isinstance(data, dict):
        raise ValueError(f'{json_path!r}: expected a JSON object mapping image names to lists '
                         f'of [x, y, w, h], got {type(data).__name__}')
    report = dict(unmatched=[], ambiguous=[])
    resolver = _NameResolver(image_root, report) if image_root is not None else None

    def items():
        for name, boxes in data.items():
            arr = np.asarray(boxes, dtype=np.float64)
            if arr.size == 0:
                arr = arr.reshape(0, 4)
            if arr.ndim != 2 or arr.shape[1] != 4:
                raise ValueError(f'{json_path!r}: boxes of {name!r} are not [x, y, w, h] lists')
            xyxy = np.concatenate([arr[:, :2], arr[:, :2] + arr[:, 2:]], axis=1)
            key, size = name, (0, 0)
            if resolver is not None:
                key = resolver.resolve(name)
                if key is None:
                    continue
                size = resolver.size(key)
            yield key, xyxy, size, LEVEL_UNKNOWN

    meta = dict(meta or {})
    meta.setdefault('source', f'imported from SoCo JSON {osp.basename(json_path)}')
    n = ProposalStore.write(out_path, items(), meta=meta)
    report.update(images=n, boxes=ProposalStore.load(out_path).num_boxes)
    return report


def export_soco_json(store_path: Union[str, ProposalStore], json_path: str) -> int:
    """Write a proposals file as the original SoCo JSON: relative path -> list of [x, y, w, h].

    Whole-pixel boxes are written as integers. Streams one image at a time.

    Returns:
        int: Number of images written.
    """
    store = store_path if isinstance(store_path, ProposalStore) else \
        ProposalStore.load(store_path)
    whole = store.arrays()['boxes'].dtype == np.uint16
    with atomic_write(json_path) as f:
        f.write('{')
        for i, key in enumerate(store.keys()):
            b = store.boxes_at(i)
            xywh = np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1)
            values = xywh.astype(np.int64).tolist() if whole else xywh.tolist()
            f.write(('' if i == 0 else ',\n') + json.dumps(key) + ': ' + json.dumps(values))
        f.write('}\n')
    return len(store)
