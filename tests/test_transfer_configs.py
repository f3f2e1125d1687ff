"""Every transfer config: load a converted SoCo checkpoint and train one iteration on CPU.

For each config in ``configs/transfer`` the test runs the real mmengine Runner (``load_from`` =
the converted checkpoint) on 2 photos from ``skimage.data`` with hand-placed boxes and polygon
masks, at 224 px.  A hook sees the weights right after ``load_from`` and before the first step:
every converted tensor must exist in the detector (no unexpected keys), every backbone / neck /
shared-head tensor must come from SoCo (no missing keys; only the FPN P6/P7 convs of RetinaNet and
FCOS are fresh, by design) and equal the SoCo weight; then the step must give finite losses.
"""

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from mmsoco.converters import check_against_detector, convert_state_dict, save_mmdet_checkpoint
from transfer_utils import (TRANSFER_CONFIGS, expected_transfer, soco_state_dict,
                            tiny_train_cfg, transfer_layout, transfer_scopes)


def _state(variant):
    return soco_state_dict(variant)  # cached in transfer_utils


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    """Converted checkpoints, one per (variant, det), written once for all configs."""
    root = tmp_path_factory.mktemp('converted')
    cache = {}

    def get(variant, det):
        if (variant, det) not in cache:
            conv = convert_state_dict(_state(variant), det=det)
            path = str(root / f'soco_{variant}_{det}.pth')
            save_mmdet_checkpoint(conv, path)
            cache[variant, det] = conv, path
        return cache[variant, det]

    return get


@pytest.fixture(autouse=True)
def keep_default_scope():
    """Drop the 'mmdet' DefaultScope each Runner creates, so later tests keep their scope."""
    before = set(DefaultScope._instance_dict)
    yield
    for name in set(DefaultScope._instance_dict) - before:  # as overwrite_default_scope does
        DefaultScope._instance_dict.pop(name)


class SnapshotAfterLoad(Hook):
    """Keep the weights as loaded (``before_train`` runs after ``load_from``) and the losses."""

    priority = 'VERY_HIGH'

    def before_train(self, runner):
        self.loaded = {k: v.detach().clone() for k, v in runner.model.state_dict().items()}

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.outputs = {k: float(v.detach()) if torch.is_tensor(v) else float(v)
                        for k, v in outputs.items()}


@pytest.mark.parametrize('config', TRANSFER_CONFIGS)
def test_transfer_config_loads_soco_and_trains(config, converted, tmp_path):
    variant, det = transfer_layout(config)
    conv, ckpt = converted(variant, det)
    soco = _state(variant)

    cfg = tiny_train_cfg(config, ckpt, str(tmp_path / 'data'), str(tmp_path / 'work'),
                         name=f'transfer-{config}')
    runner = Runner.from_cfg(cfg)
    snapshot = SnapshotAfterLoad()
    runner.register_hook(snapshot)
    runner.train()

    loaded = snapshot.loaded
    unexpected = [k for k in conv.state_dict if k not in loaded]
    assert not unexpected, f'converted keys the detector does not have: {unexpected[:5]}'
    scopes, fresh = transfer_scopes(variant, det)
    missing = [k for k in loaded if k.startswith(scopes) and k not in conv.state_dict
               and not (fresh and k.startswith(fresh))]
    assert not missing, f'pretrained layers left at their fresh init: {missing[:5]}'
    if fresh:  # P6/P7 exist in the detector and are not SoCo's
        assert all(any(k.startswith(f) for k in loaded) for f in fresh)
        assert not any(k.startswith(fresh) for k in conv.state_dict)

    pairs = expected_transfer({k: v for k, v in soco.items() if not k.startswith('target_net.')},
                              variant, det)
    assert len(pairs) == len(conv.state_dict)
    for src, dst in pairs:
        assert torch.equal(loaded[dst], soco[src]), f'{dst} != SoCo {src}'
    check_against_detector(conv, runner.model)

    losses = snapshot.outputs
    assert any(k.startswith('loss') for k in losses)
    assert all(torch.isfinite(torch.tensor(v)) for v in losses.values()), losses
    after = runner.model.state_dict()
    assert not torch.equal(after['backbone.conv1.weight'], loaded['backbone.conv1.weight'])
