"""Mini COCO: a fixed random fraction of the COCO train2017 images with their annotations.

SoCo reports fine-tuning on 5% and 10% of COCO train2017 ("Mini COCO").  The subset is drawn with a
fixed seed so every run and every user trains on the same images: the image ids are sorted, shuffled
once with ``random.Random(seed)``, and the first ``round(fraction * N)`` are kept, so with one seed
the 5% subset is contained in the 10% subset.  Images and annotations keep their file order;
``categories``, ``licenses`` and ``info`` are copied (``info`` records fraction and seed).
"""
import json
import os.path as osp
import random
from typing import Dict, List, Sequence


def fraction_tag(fraction: float) -> str:
    """``0.05`` -> ``'5p'``, ``0.1`` -> ``'10p'``, ``0.025`` -> ``'2.5p'``."""
    return f'{round(fraction * 100, 6):g}p'


def mini_coco_name(ann_file: str, fraction: float, seed: int = 0) -> str:
    """File name of a subset: ``instances_train2017.json`` -> ``instances_train2017_mini-5p.json``
    (``_seed{seed}`` is appended for a seed other than 0)."""
    stem = osp.splitext(osp.basename(ann_file))[0]
    return f'{stem}_mini-{fraction_tag(fraction)}' + (f'_seed{seed}' if seed else '') + '.json'


def sample_image_ids(image_ids: Sequence[int], fraction: float, seed: int = 0) -> List[int]:
    """The ids in the subset, in the order of the shuffled list (nested across fractions)."""
    if not 0. < fraction <= 1.:
        raise ValueError(f'fraction must be in (0, 1], got {fraction}')
    ids = sorted(image_ids)
    random.Random(seed).shuffle(ids)
    return ids[:max(1, round(fraction * len(ids)))]


def make_mini_coco(coco: Dict, fraction: float, seed: int = 0) -> Dict:
    """Subset a COCO annotation dict.

    Args:
        coco (dict): COCO-format annotations (``images``, ``annotations``, ``categories``, ...).
        fraction (float): Fraction of the images to keep, e.g. 0.05 or 0.10.
        seed (int): Seed of the draw. Defaults to 0.

    Returns:
        dict: The subset, same format.
    """
    keep = set(sample_image_ids([img['id'] for img in coco['images']], fraction, seed))
    subset = {k: v for k, v in coco.items() if k not in ('images', 'annotations')}
    subset['info'] = dict(coco.get('info') or {}, mini_coco=dict(fraction=fraction, seed=seed,
                                                                 num_images=len(keep)))
    subset['images'] = [img for img in coco['images'] if img['id'] in keep]
    subset['annotations'] = [a for a in coco.get('annotations', []) if a['image_id'] in keep]
    return subset


def write_mini_coco(ann_file: str,
                    fractions: Sequence[float] = (0.05, 0.10),
                    seed: int = 0,
                    out_dir: str = None) -> List[str]:
    """Write one subset file per fraction next to ``ann_file`` (or into ``out_dir``).

    Returns:
        list[str]: Paths written.
    """
    with open(ann_file) as f:
        coco = json.load(f)
    out_dir = out_dir or osp.dirname(osp.abspath(ann_file))
    paths = []
    for fraction in fractions:
        path = osp.join(out_dir, mini_coco_name(ann_file, fraction, seed))
        subset = make_mini_coco(coco, fraction, seed)
        with open(path, 'w') as f:
            json.dump(subset, f)
        paths.append(path)
    return paths
