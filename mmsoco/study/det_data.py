"""The labelled detection set of the study, checked before anything trains.

Two COCO jsons (``--train-json``, ``--val-json``, as ``tools/transfer_study.py split`` writes
them) whose ``file_name`` are relative to one image folder (``--img-root``).
:func:`check_coco_split` reads both and looks for every image they name, so a wrong folder or a
json of another set stops the study with one line naming the option, before hours of pretraining
end in a DataLoader traceback.
"""
import json
import os.path as osp
from typing import Dict, List

#: the option that gives each file, for the messages
OPTIONS = dict(train='--train-json', val='--val-json')


def _read_coco(path: str, option: str) -> dict:
    try:
        with open(path) as f:
            coco = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f'{option} {path}: not a readable COCO json ({e})') from None
    missing = [k for k in ('images', 'annotations', 'categories')
               if not isinstance(coco, dict) or not isinstance(coco.get(k), list)]
    if missing:
        raise ValueError(f'{option} {path}: no {", ".join(missing)} list (a COCO detection json '
                         'has images, annotations and categories)')
    if not coco['images'] or not coco['categories']:
        raise ValueError(f'{option} {path}: no images or no categories')
    return coco


def _class_names(coco: dict) -> List[str]:
    return [c['name'] for c in sorted(coco['categories'], key=lambda c: c['id'])]


def check_coco_split(train_json: str, val_json: str, img_root: str) -> Dict[str, int]:
    """Check both jsons, their split and that every image they name is under ``img_root``.

    Args:
        train_json (str): COCO json of the training split.
        val_json (str): COCO json of the evaluation split.
        img_root (str): Folder the jsons' ``file_name`` are relative to.

    Returns:
        dict: ``train`` and ``val`` image counts, ``boxes`` (training annotations).

    Raises:
        FileNotFoundError: Images of a json are not under ``img_root`` (counted, one named).
        ValueError: A json is unreadable or not COCO, the two disagree on the categories, an
            image is in both splits, an annotation names an image or category the json lacks,
            or the training split has no box.
    """
    cocos = {split: _read_coco(path, OPTIONS[split])
             for split, path in (('train', train_json), ('val', val_json))}
    if _class_names(cocos['train']) != _class_names(cocos['val']):
        raise ValueError(f'--train-json and --val-json have other categories: '
                         f'{_class_names(cocos["train"])} and {_class_names(cocos["val"])}')
    names = {split: {im['file_name'] for im in coco['images']} for split, coco in cocos.items()}
    both = sorted(names['train'] & names['val'])
    if both:
        raise ValueError(f'{len(both)} images are in both --train-json and --val-json, e.g. '
                         f'{both[0]}: a split keeps them apart')
    out = {}
    for split, coco in cocos.items():
        option, path = OPTIONS[split], (train_json if split == 'train' else val_json)
        missing = sorted(n for n in names[split] if not osp.isfile(osp.join(img_root, n)))
        if missing:
            raise FileNotFoundError(
                f'--img-root {img_root}: {len(missing)} of {len(names[split])} images of '
                f'{option} {path} are not there, e.g. {osp.join(img_root, missing[0])}; give the '
                "folder the json's file_name are relative to")
        ids = {im['id'] for im in coco['images']}
        cats = {c['id'] for c in coco['categories']}
        bad = [a for a in coco['annotations']
               if a.get('image_id') not in ids or a.get('category_id') not in cats]
        if bad:
            raise ValueError(f'{option} {path}: {len(bad)} annotations name an image or category '
                             f'the json does not have, e.g. {bad[0]}')
        out[split] = len(coco['images'])
    out['boxes'] = len(cocos['train']['annotations'])
    if not out['boxes']:
        raise ValueError(f'--train-json {train_json}: no box to train on')
    return out
