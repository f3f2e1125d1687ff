"""Helpers for the transfer tests: SoCo checkpoints, a tiny COCO-format dataset, tiny runs.

* :func:`soco_state_dict` builds a SoCo model (the registered :class:`mmsoco.models.SoCo` from
  ``configs/_base_/models/soco_r50_{fpn,c4}.py``, BN instead of SyncBN) and returns its state dict
  with distinguishable values: random BN statistics and affine parameters, a counter in
  ``num_batches_tracked``, and a target network that differs from the online one.  So a test can
  tell a pretrained tensor from a freshly initialised one, and the online from the target network.
  If SoCo does not build, every test that needs its checkpoint fails: there is no stand-in.
* :func:`write_tiny_coco` writes 2 real photos bundled with scikit-image (``skimage/data``) at
  224 px with hand-placed boxes and polygon masks as a COCO-format dataset.
* :func:`tiny_train_cfg` turns a transfer config into a 1-iteration CPU run on that dataset.
"""
import copy
import json
import os
import os.path as osp
import re
from collections import OrderedDict
from functools import lru_cache

import numpy as np
import torch
from mmengine.config import Config
from mmsoco.testing import model_cfg

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TRANSFER_DIR = osp.join(REPO, 'configs', 'transfer')
TRANSFER_CONFIGS = sorted(f for f in os.listdir(TRANSFER_DIR) if f.endswith('.py'))


def transfer_layout(config_name):
    """``(variant, det)`` each transfer config takes, read from its name."""
    variant = 'c4' if '_r50-c4_' in config_name else 'fpn'
    det = config_name.split('_')[0]
    return variant, {'retinanet': 'retinanet', 'fcos': 'fcos'}.get(det, 'rcnn')


# ---------------------------------------------------------------------------------------------
# SoCo checkpoints
def soco_model_cfg(variant):
    """The shipped SoCo model config of a variant, with plain BN."""
    return model_cfg(variant).to_dict()


def real_soco_state_dict(variant):
    """State dict of the registered SoCo model (online + target network), fresh init."""
    from mmengine.registry import DefaultScope
    from mmselfsup.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmselfsup'):
        model = MODELS.build(soco_model_cfg(variant))
    return OrderedDict((k, v.detach().clone()) for k, v in model.state_dict().items())


def distinguishable(state, seed=0):
    """Give every tensor a value a fresh detector init cannot have, and the target net an offset.

    BN: weight ~ 1 + 0.1 N(0,1), bias/running_mean ~ 0.1 N(0,1), running_var ~ U(0.5, 1.5),
    num_batches_tracked = 1234; conv/linear weights keep their (random) init.  Target-network
    tensors (floating point) get + 0.01 N(0,1) so they differ from the online ones.
    """
    g = torch.Generator().manual_seed(seed)
    out = OrderedDict()
    for k, v in state.items():
        v = v.clone()
        if k.endswith('num_batches_tracked'):
            v.fill_(1234)
        elif k.endswith('running_var'):
            v = 0.5 + torch.rand(v.shape, generator=g)
        elif k.endswith('running_mean') or (v.dim() == 1 and k.endswith('bias')):
            v = 0.1 * torch.randn(v.shape, generator=g)
        elif v.dim() == 1 and k.endswith('weight'):
            v = 1 + 0.1 * torch.randn(v.shape, generator=g)
        if k.startswith('target_net.module.') and v.is_floating_point():
            v = v + 0.01 * torch.randn(v.shape, generator=g)
        out[k] = v
    assert 'target_net.steps' in out, 'SoCo state dict without the target step counter'
    out['target_net.steps'] = torch.tensor(4321, dtype=torch.long)
    return out


@lru_cache(maxsize=None)
def soco_state_dict(variant, seed=0):
    """A distinguishable state dict of the real SoCo model (:func:`distinguishable`).

    Cached: the model is built once per test session (callers must not modify the result).
    """
    return distinguishable(real_soco_state_dict(variant), seed)


def save_like_mmengine(state, path):
    """Save as the mmengine Runner's CheckpointHook does (numpy scalars in message_hub/meta)."""
    torch.save({
        'meta': dict(epoch=100, iter=125100, seed=np.int64(0), mmengine_version='0.10.7',
                     cfg="model = dict(type='SoCo')", experiment_name='soco'),
        'state_dict': state,
        'message_hub': dict(log_scalars={}, runtime_info=dict(epoch=100, iter=125100,
                                                              lr=np.float64(0.1)),
                            resumed_keys={}),
        'optimizer': dict(state={}, param_groups=[]),
        'param_schedulers': [],
    }, path)
    return path


def expected_transfer(soco_state, variant, det):
    """The pairs ``(soco key, mmdet key)`` the paper's transfer implies, written out by hand.

    FPN + R-CNN: names kept, head -> roi_head.bbox_head.  FPN + RetinaNet/FCOS (start_level=1):
    SoCo FPN index j -> j - 1, P2 (j=0) dropped, no box head.  C4: res5 -> roi_head.shared_head.
    """
    pairs = []
    for key in soco_state:
        if key.startswith('backbone.'):
            pairs.append((key, key))
        elif variant == 'c4' and key.startswith('head.layer4.'):
            pairs.append((key, 'roi_head.shared_head.' + key[5:]))
        elif variant == 'fpn' and key.startswith('neck.'):
            m = re.match(r'neck\.(lateral_convs|fpn_convs)\.(\d)\.(.+)', key)
            shift = 0 if det == 'rcnn' else 1
            if int(m.group(2)) >= shift:
                pairs.append((key, f'neck.{m.group(1)}.{int(m.group(2)) - shift}.{m.group(3)}'))
        elif variant == 'fpn' and det == 'rcnn' and key.startswith('head.'):
            pairs.append((key, 'roi_head.bbox_head.' + key[5:]))
    return pairs


def transfer_scopes(variant, det):
    """Detector prefixes whose every tensor must come from SoCo, and the documented exceptions."""
    if variant == 'c4':
        return ('backbone.', 'roi_head.shared_head.'), ()
    if det == 'rcnn':
        return ('backbone.', 'neck.', 'roi_head.bbox_head.shared_convs.',
                'roi_head.bbox_head.shared_fcs.'), ()
    return ('backbone.', 'neck.'), ('neck.fpn_convs.3.', 'neck.fpn_convs.4.')  # P6, P7: fresh


# ---------------------------------------------------------------------------------------------
# A tiny COCO-format dataset from skimage's photos
#: photo -> (objects as (names, box x1 y1 x2 y2, polygon [x, y, ...]) in the original pixels)
PHOTOS = {
    'astronaut': [
        (('person', ), (20, 12, 366, 511),
         [150, 40, 225, 12, 295, 50, 305, 150, 300, 260, 355, 320, 366, 511, 20, 511, 25, 330,
          110, 250, 120, 180, 150, 100]),
        (('airplane', 'aeroplane'), (355, 0, 470, 285),
         [395, 60, 415, 0, 440, 60, 470, 250, 420, 285, 380, 270, 355, 220, 380, 150]),
    ],
    'chelsea': [
        (('cat', ), (12, 0, 425, 300),
         [40, 0, 385, 0, 425, 120, 385, 240, 280, 300, 120, 300, 20, 200, 12, 60]),
    ],
    'coffee': [
        (('cup', ), (170, 18, 410, 305),
         [180, 40, 300, 18, 405, 50, 400, 190, 330, 270, 250, 300, 200, 300, 180, 200]),
        (('spoon', ), (325, 65, 425, 325),
         [400, 65, 425, 75, 405, 200, 400, 300, 360, 325, 328, 300, 340, 250, 390, 200]),
    ],
}


def write_tiny_coco(root, classes, photos=('astronaut', 'chelsea'), max_side=224):
    """Write ``root/images/*.jpg`` and ``root/annotations.json`` (COCO format).

    Args:
        root (str): Output folder.
        classes (Sequence[str]): Class names of the detector's dataset; each object is written
            under the first of its names found there (objects without one are skipped).
        photos (Sequence[str]): skimage.data photo names (see :data:`PHOTOS`).
        max_side (int): Long side of the written images.

    Returns:
        tuple[str, list[str]]: The annotation file and the category names used.
    """
    import skimage.data
    from PIL import Image

    os.makedirs(osp.join(root, 'images'), exist_ok=True)
    images, annotations, categories = [], [], {}
    for image_id, name in enumerate(photos, start=1):
        img = Image.fromarray(getattr(skimage.data, name)()).convert('RGB')
        scale = max_side / max(img.size)
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.BILINEAR)
        img.save(osp.join(root, 'images', f'{name}.jpg'), quality=90)
        images.append(dict(id=image_id, file_name=f'{name}.jpg', width=img.width,
                           height=img.height))
        for names, box, poly in PHOTOS[name]:
            cls = next((n for n in names if n in classes), None)
            if cls is None:
                continue
            cat_id = categories.setdefault(cls, len(categories) + 1)
            x1, y1, x2, y2 = [c * scale for c in box]
            annotations.append(dict(
                id=len(annotations) + 1, image_id=image_id, category_id=cat_id,
                bbox=[x1, y1, x2 - x1, y2 - y1], area=(x2 - x1) * (y2 - y1), iscrowd=0,
                segmentation=[[round(c * scale, 1) for c in poly]]))
    ann_file = osp.join(root, 'annotations.json')
    with open(ann_file, 'w') as f:
        json.dump(dict(images=images, annotations=annotations,
                       categories=[dict(id=i, name=n) for n, i in categories.items()]), f)
    return ann_file, list(categories)


# ---------------------------------------------------------------------------------------------
# A 1-iteration CPU run of a transfer config
def _find(cfg, key):
    """First value of ``key`` in a nested config (depth first)."""
    if isinstance(cfg, dict):
        if key in cfg:
            return cfg[key]
        for value in cfg.values():
            found = _find(value, key)
            if found is not None:
                return found
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            found = _find(value, key)
            if found is not None:
                return found
    return None


def _dataset_types(cfg, found=None):
    found = [] if found is None else found
    if isinstance(cfg, dict):
        if 'type' in cfg and str(cfg['type']).endswith('Dataset'):
            found.append(str(cfg['type']))
        for value in cfg.values():
            _dataset_types(value, found)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            _dataset_types(value, found)
    return found


def dataset_classes(cfg):
    """Class names of the dataset a config trains on (COCO, VOC or LVIS)."""
    from mmdet.registry import DATASETS
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    for name in _dataset_types(cfg.train_dataloader.to_dict()):
        dataset = DATASETS.get(name)
        if dataset is not None and 'classes' in getattr(dataset, 'METAINFO', {}):
            return dataset.METAINFO['classes']
    raise ValueError('no dataset with class names in the config')


def _small_scales(pipeline, side):
    """Shrink every resize in a train pipeline to ``side`` (keep the transforms themselves)."""
    for t in pipeline:
        if t['type'] in ('Resize', 'RandomResize'):
            t['scale'] = (side, side)
            t.pop('ratio_range', None)
            t['type'] = 'Resize'
        elif t['type'] == 'RandomChoiceResize':
            t['scales'] = [(side, side), (side - 32, side - 32)]
    return pipeline


def tiny_train_cfg(config, load_from, data_root, work_dir, side=224, name='tiny'):
    """A transfer config, cut to one training iteration on the tiny dataset in ``data_root``.

    Keeps the model, its train pipeline (smaller resizes), optimizer, schedulers and loop type;
    replaces the dataset with the 2-image COCO-format one (batch 2: one iteration), turns off
    validation and checkpointing, and trims the R-CNN sampling budgets so that a CPU step is quick.
    """
    cfg = Config.fromfile(osp.join(TRANSFER_DIR, config) if not osp.isabs(config) else config)
    classes = dataset_classes(cfg)
    ann_file, _ = write_tiny_coco(data_root, classes, max_side=side)
    pipeline = _small_scales(copy.deepcopy(_find(cfg.train_dataloader.to_dict(), 'pipeline')),
                             side)
    cfg.train_dataloader = dict(
        batch_size=2, num_workers=0, persistent_workers=False,
        sampler=dict(type='InfiniteSampler' if cfg.train_cfg.type == 'IterBasedTrainLoop'
                     else 'DefaultSampler', shuffle=False),
        dataset=dict(type='CocoDataset', data_root=data_root, ann_file=ann_file,
                     data_prefix=dict(img='images/'), metainfo=dict(classes=classes),
                     filter_cfg=dict(filter_empty_gt=True), pipeline=pipeline))
    if cfg.train_cfg.type == 'IterBasedTrainLoop':
        cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=1, val_interval=100)
    else:
        cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1, val_interval=100)
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator', 'test_dataloader', 'test_cfg',
                'test_evaluator'):
        cfg[key] = None
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    # the visualizer is a named global instance: one per run, not mmdet's shared 'visualizer'
    cfg.visualizer.update(name=f'{name}-visualizer', vis_backends=[dict(type='LocalVisBackend')])
    train_cfg = cfg.model.get('train_cfg') or {}
    if 'rpn_proposal' in train_cfg:
        train_cfg.rpn_proposal.update(nms_pre=200, max_per_img=64)
    if 'rcnn' in train_cfg:
        train_cfg.rcnn.sampler.num = 32
    cfg.load_from = load_from
    cfg.work_dir = work_dir
    cfg.experiment_name = name
    cfg.log_level = 'WARNING'
    cfg.launcher = 'none'
    cfg.randomness = dict(seed=0)
    return cfg
