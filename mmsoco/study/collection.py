"""The study's pretraining collection: one list of images that SoCo and BYOL both read.

The user gives one or more image folders (unlabelled; nested folders are fine, e.g.
``../shared/datasets`` holds coco128, raccoon, kangaroo and bccd).  They are linked under one root
(``<work_dir>/data/pretrain/images/<folder name>``) and every image below it is written to a
list file, ``images.txt``, one ``<relative path> 0`` line per image.  The same file serves

* ``data_prep.generate_proposals`` and :class:`mmsoco.datasets.SoCoDataset` (first field), and
* mmcls's ``CustomDataset`` in the BYOL config (``<path> <label>``; the label is unused),

so both methods see exactly the same images.

Each image is listed once, by its real path: a file reachable through a second folder or a
symbolic link (a set that links its images into another layout) is listed only the first time,
in sorted order.  Segmentation label masks are not photos and are left out: images inside a
folder whose name says it holds masks (:data:`MASK_FOLDERS`: CamVid's ``trainannot``, VOC's
``SegmentationClass``, ADE20K's ``annotations``, Cityscapes' ``gtFine``, ...).
"""
import os
import os.path as osp
from typing import Callable, Dict, List, Sequence

from data_prep.atomic_write import atomic_write
from data_prep.collection import list_images

#: Folder names (lower case) whose images are segmentation label masks; a name ending in
#: ``annot`` or ``annots`` also counts (CamVid's ``trainannot``, ``valannot``, ``testannot``).
MASK_FOLDERS = frozenset({'annotations', 'segmentationclass', 'segmentationclassaug',
                          'segmentationobject', 'gtfine', 'gtcoarse', 'masks', 'mask'})


def is_mask_path(rel_path: str) -> bool:
    """Whether an image lies in a folder of segmentation label masks (see :data:`MASK_FOLDERS`)."""
    folders = [d.lower() for d in rel_path.split('/')[:-1]]
    return any(d in MASK_FOLDERS or d.endswith(('annot', 'annots')) for d in folders)


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
    """Link ``sources`` under ``root`` and list their photos in ``list_file``, each once.

    Paths with whitespace cannot be written in the list format: they are skipped, counted and
    logged (with the first few names).  Label masks and second paths to an already listed file
    are left out (see the module docstring), counted and logged.

    Returns:
        dict: ``images`` (listed), ``skipped`` (paths with whitespace), ``masks`` (label masks
        left out) and ``duplicates`` (paths to a file listed under another path).

    Raises:
        ValueError: No image was found.
    """
    link_sources(sources, root)
    paths = list_images(root)
    bad = [p for p in paths if any(c.isspace() for c in p)]
    if bad:
        log(f'pretraining collection: skipped {len(bad)} images whose path has whitespace '
            f'(the list format cannot hold them), e.g. {bad[:3]}')
    masks = [p for p in paths if is_mask_path(p)]
    if masks:
        log(f'pretraining collection: left out {len(masks)} segmentation label masks, e.g. '
            f'{masks[:3]}')
    skipped = set(bad) | set(masks)
    kept, seen, duplicates = [], set(), []
    for p in paths:
        if p in skipped:
            continue
        real = osp.realpath(osp.join(root, p))
        if real in seen:
            duplicates.append(p)
            continue
        seen.add(real)
        kept.append(p)
    if duplicates:
        log(f'pretraining collection: {len(duplicates)} images reached through a second path '
            f'(a link) listed once, e.g. {duplicates[:3]}')
    if not kept:
        raise ValueError(f'no usable image in the pretraining folders {list(sources)}')
    with atomic_write(list_file) as f:
        f.writelines(f'{p} 0\n' for p in kept)
    return dict(images=len(kept), skipped=len(bad), masks=len(masks),
                duplicates=len(duplicates))
