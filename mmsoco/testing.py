"""Model configs and hand-made batches (no data pipeline), for tests and benchmarks."""
import copy
import importlib.metadata
import socket

import numpy as np
import torch
from mmengine.config import Config

from mmsoco.host import DataSample
from mmsoco.utils.package_files import CHECKOUT_DIR, config_path

#: The checkout root, for tests that run tools and test configs of a checkout.  Model configs are
#: found through :func:`config_path` (the package's ``.mim/configs``), which an install also has.
REPO = CHECKOUT_DIR


def plain_bn(cfg):
    """SyncBN -> BN (BN1d in the MLPs), in place, so a model runs outside distributed training."""
    if isinstance(cfg, dict):
        for key, value in cfg.items():
            if key == 'norm_cfg' and isinstance(value, dict) and value.get('type') == 'SyncBN':
                cfg[key] = dict(value, type='BN')
            else:
                plain_bn(value)
        for key in ('projector', 'predictor'):
            if isinstance(cfg.get(key), dict) and 'norm_cfg' in cfg[key]:
                cfg[key]['norm_cfg'] = dict(type='BN1d')
    return cfg


#: ``model_cfg(tiny=True)``: narrower widths (ResNet-18, 64-channel FPN, 512-wide MLPs), keys of
#: ``cfg.model``.
TINY_FPN = {
    'backbone.depth': 18, 'neck.in_channels': [64, 128, 256, 512], 'neck.out_channels': 64,
    'roi_extractor.out_channels': 64, 'head.in_channels': 64, 'head.conv_out_channels': 64,
    'head.fc_out_channels': 256, 'projector.in_channels': 256, 'projector.hid_channels': 512,
    'projector.out_channels': 128, 'predictor.in_channels': 128, 'predictor.hid_channels': 512,
    'predictor.out_channels': 128}


def model_cfg(variant='fpn', tiny=False):
    """The shipped model config, with plain BN so it runs outside distributed training.

    ``tiny`` shrinks widths (ResNet-18, 512-wide MLPs) to keep optimisation tests quick; the
    structure (FPN P2-P5, scale-aware RoIAlign, 4conv1fc head, projector, predictor) is unchanged.
    """
    cfg = Config.fromfile(config_path(f'_base_/models/soco_r50_{variant}.py')).model
    cfg = plain_bn(copy.deepcopy(cfg))
    if tiny:
        assert variant == 'fpn'
        for key, value in TINY_FPN.items():
            *path, leaf = key.split('.')
            node = cfg
            for name in path:
                node = node[name]
            node[leaf] = copy.deepcopy(value)
    return cfg


#: ``cfg.model`` keys -> ``--cfg-options`` strings, for a tool run in another process.
TINY_FPN_OPTIONS = tuple(f'model.{key}={value}'.replace(' ', '') for key, value in TINY_FPN.items())


def installed(name: str) -> bool:
    """Whether distribution ``name`` is installed, read from its metadata, not imported (a test
    process on mmselfsup refuses to import mmpretrain, mmsoco/registry.py)."""
    try:
        return bool(importlib.metadata.version(name))
    except importlib.metadata.PackageNotFoundError:
        return False


def free_port() -> int:
    """A TCP port free on this machine now, for a test's torch.distributed rendezvous (tests in
    two pytest-xdist workers each start their own)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def make_sample(view_bboxes, valid=None):
    """A data sample as :class:`SoCoViews` packs it: boxes (V, K, 4), ids (V, K), validity (V, K)
    (``valid``: (K,), the same in every view), one box set per view."""
    view_bboxes = torch.as_tensor(np.asarray(view_bboxes, dtype=np.float32))
    v, k, _ = view_bboxes.shape
    sample = DataSample()
    sample.set_field(view_bboxes, 'view_bboxes')
    sample.set_field(torch.arange(k).repeat(v, 1), 'proposal_ids')
    valid = torch.ones(k, dtype=torch.bool) if valid is None else torch.as_tensor(valid).bool()
    sample.set_field(valid.repeat(v, 1), 'proposal_valid')
    sample.set_metainfo(dict(box_sets=[(i, None) for i in range(v)]))
    return sample


def random_batch(n=2, sizes=(224, 224, 112), k=4, seed=0):
    """Random views and random boxes inside each view."""
    g = torch.Generator().manual_seed(seed)
    inputs = [torch.randn(n, 3, s, s, generator=g) for s in sizes]
    samples = []
    for _ in range(n):
        boxes = []
        for s in sizes:
            xy = torch.rand(k, 2, generator=g) * s * 0.5
            wh = (torch.rand(k, 2, generator=g) * 0.4 + 0.1) * s
            boxes.append(torch.cat([xy, (xy + wh).clamp(max=s)], 1))
        samples.append(make_sample(torch.stack(boxes)))
    return inputs, samples
