"""Which images make up a collection: a folder, a list file or a COCO json.

The folder scan and the list reader are not mmengine's ``scandir`` / ``list_from_file``:
``data_prep`` runs without the training stack (a proposals job needs no torch or mmengine), and
the scan also follows links and skips hidden folders, as the training dataset's scan does.
"""
import json
import os
import os.path as osp
from typing import List, Optional, Tuple

# the same extensions as mmsoco's SoCoDataset folder scan, so both see the same images
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp')
LIST_EXTENSIONS = ('.txt', '.lst', '.list', '.csv')


def _scan_folder(folder: str, root: str) -> List[str]:
    """Image files under ``folder`` (recursive, links followed, hidden entries skipped)."""
    found = []
    for dirpath, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
        rel_dir = osp.relpath(dirpath, root)
        for name in files:
            if name.startswith('.') or not name.lower().endswith(IMG_EXTENSIONS):
                continue
            rel = name if rel_dir == '.' else osp.join(rel_dir, name)
            found.append(rel.replace(os.sep, '/'))
    return found


def _read_list_file(path: str) -> List[str]:
    """Paths from a list file: the first field of each line (ImageNet ``train.txt`` style)."""
    paths = []
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            first = line.split(',')[0] if path.lower().endswith('.csv') else line.split()[0]
            paths.append(first)
    return paths


def _read_coco_json(path: str) -> List[str]:
    with open(path, encoding='utf-8') as f:
        data = json.load(f)
    if not isinstance(data, dict) or not isinstance(data.get('images'), list):
        raise ValueError(f"{path}: not a COCO-style json (no 'images' list with 'file_name's)")
    return [img['file_name'] for img in data['images']]


def resolve_source(source: str, root: Optional[str] = None) -> Tuple[str, str]:
    """The kind of ``source`` ('folder', 'list' or 'coco') and the root its paths are relative to.

    Without ``root``: a folder's paths are relative to the folder; a list file's or a COCO json's
    paths are relative to the folder that holds the file.
    """
    source = os.fspath(source)
    if not osp.exists(source):
        raise FileNotFoundError(f'image source {source!r} does not exist (give an image folder, '
                                'a list file of relative paths or a COCO json)')
    if osp.isdir(source):
        kind = 'folder'
        base = source
    elif source.lower().endswith('.json'):
        kind = 'coco'
        base = osp.dirname(osp.abspath(source))
    else:
        kind = 'list'
        base = osp.dirname(osp.abspath(source))
    if root is not None:
        if not osp.isdir(root):
            raise FileNotFoundError(f'image root {root!r} is not a folder')
        base = root
    return kind, base


def list_images(source: str, root: Optional[str] = None) -> List[str]:
    """Relative paths of the images of a collection, sorted, '/'-separated, each once.

    Args:
        source (str): One of
            - a folder: every image file below it (flat, ImageNet class folders, COCO
              ``train2017/``; recursive);
            - a list file (``.txt``, ``.lst``...): one relative path per line, the first field
              (a label may follow, as in ImageNet's ``meta/train.txt``); blank lines and lines
              starting with '#' are skipped;
            - a COCO json (``instances_train2017.json``, ``image_info_unlabeled2017.json``):
              ``images[].file_name``.
        root (str, optional): Folder the paths are relative to. Defaults to the folder itself,
            or the folder holding the list/json file. For a folder source inside ``root``, the
            paths are relative to ``root`` (e.g. source ``imagenet/train``, root ``imagenet``
            gives ``train/n01440764/...``).

    Returns:
        list[str]: Relative image paths.

    Raises:
        FileNotFoundError: ``source`` or ``root`` is missing, or the listed files are not found
            under the root (so the root is probably wrong).
        ValueError: The source holds no image.
    """
    kind, base = resolve_source(source, root)
    if kind == 'folder':
        rel_source = osp.relpath(source, base)
        if rel_source.startswith('..'):
            raise ValueError(f'image folder {source!r} is not inside root {base!r}')
        paths = _scan_folder(source, base)
        if not paths:
            raise ValueError(f'no image files ({", ".join(IMG_EXTENSIONS)}) found in folder '
                             f'{source!r}')
    else:
        paths = _read_coco_json(source) if kind == 'coco' else _read_list_file(source)
        paths = [p.replace('\\', '/') for p in paths]
        paths = [p[2:] if p.startswith('./') else p for p in paths]
        if not paths:
            raise ValueError(f'no image paths listed in {source!r}')
        # the root is wrong if none of the first few listed files exists under it
        probe = paths[:5]
        if not any(osp.isfile(osp.join(base, p)) for p in probe):
            raise FileNotFoundError(
                f'none of the first listed images of {source!r} exists under root {base!r} '
                f'(e.g. {osp.join(base, probe[0])!r}); pass the image folder as --root')
    return sorted(set(paths))
