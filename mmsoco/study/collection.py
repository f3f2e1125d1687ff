"""The study's pretraining collection: one list of images that SoCo and BYOL both read.

The user gives one or more image folders (unlabelled; nested folders are fine, e.g.
``../shared/datasets`` holds coco128, raccoon, kangaroo and bccd).  They are linked under one root
(``<work_dir>/data/pretrain/images/<folder name>``) and every image below it is written to a
list file, ``images.txt``, one ``<relative path> 0`` line per image.  The same file serves

* ``data_prep.generate_proposals`` and :class:`mmsoco.datasets.SoCoDataset` (first field), and
* mmcls's ``CustomDataset`` in the BYOL config (``<path> <label>``; the label is unused),

so both methods see exactly the same images.
"""
import os
import os.path as osp
from typing import Callable, Dict, List, Sequence

from data_prep.collection import list_images


def link_sources(sources: Sequence[str], root: str) -> List[str]:
    """Link each source folder under ``root``; returns the link names.

    Raises:
        FileNotFoundError: A source is not a folder.
        FileExistsError: A link already exists and points elsewhere.
    """
    os.makedirs(root, exist_ok=True)
    names = []
    for i, src in enumerate(sources):
        src = osp.abspath(src)
        if not osp.isdir(src):
            raise FileNotFoundError(f'pretraining image folder {src!r} does not exist')
        name = osp.basename(src.rstrip('/')) or f'source{i}'
        if name in names:
            name = f'{name}_{i}'
        link = osp.join(root, name)
        if osp.islink(link):
            if osp.realpath(link) != osp.realpath(src):
                raise FileExistsError(f'{link} points to {os.readlink(link)}, not {src}; use a '
                                      'fresh --work-dir for another pretraining collection')
        else:
            os.symlink(src, link)
        names.append(name)
    return names


def write_pretrain_list(sources: Sequence[str], root: str, list_file: str,
                        log: Callable[[str], None] = print) -> Dict[str, int]:
    """Link ``sources`` under ``root`` and list their images in ``list_file``.

    Paths with whitespace cannot be written in the list format: they are skipped, counted and
    logged (with the first few names).

    Returns:
        dict: ``images`` (listed) and ``skipped`` (paths with whitespace).

    Raises:
        ValueError: No image was found.
    """
    link_sources(sources, root)
    paths = list_images(root)
    bad = [p for p in paths if any(c.isspace() for c in p)]
    if bad:
        log(f'pretraining collection: skipped {len(bad)} images whose path has whitespace '
            f'(the list format cannot hold them), e.g. {bad[:3]}')
    skipped = set(bad)
    kept = [p for p in paths if p not in skipped]
    if not kept:
        raise ValueError(f'no usable image in the pretraining folders {list(sources)}')
    tmp = list_file + '.tmp'
    with open(tmp, 'w') as f:
        f.writelines(f'{p} 0\n' for p in kept)
    os.replace(tmp, list_file)
    return dict(images=len(kept), skipped=len(bad))
