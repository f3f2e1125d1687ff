"""Helpers for the speed-switch tests: a tiny SoCo, two training steps with the shipped LARS
settings, and a comparison of two trained models (losses, online and target weights)."""
import copy
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper

from mmsoco.registry import MODELS
from mmsoco.testing import REPO, model_cfg, random_batch


def tiny_soco(**extractor):
    """The tiny R50-FPN SoCo (ResNet-18 widths), initialised with seed 0, in training mode, in
    float64.

    float64, because two steps amplify rounding: BN over 8 boxes and LARS make the second
    step's loss move by about 1e-3 (relative) when the weights move by 1e-7, so float32 could
    tell a switch that changes the result only by its rounding from one that is wrong.
    """
    MessageHub.get_current_instance().update_info('max_iters', 100)
    cfg = model_cfg('fpn', tiny=True)
    cfg.roi_extractor.update(extractor)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model.double().train()


def lars_wrapper_cfg(optimizer: str = 'LARS', **kwargs) -> dict:
    """The shipped LARS optim wrapper (``lars_coslr_100e.py``, its paramwise settings)."""
    cfg = Config.fromfile(osp.join(REPO, 'configs/_base_/schedules/lars_coslr_100e.py'))
    wrapper = cfg.optim_wrapper.to_dict()
    wrapper['optimizer'].update(type=optimizer, lr=0.3, **kwargs)
    return wrapper


def two_steps(model, optimizer: str = 'LARS', steps: int = 2):
    """Train ``model`` ``steps`` steps on fixed random batches; returns the summed losses."""
    wrapper = build_optim_wrapper(model, lars_wrapper_cfg(optimizer))
    losses = []
    for step in range(steps):
        inputs, samples = random_batch(n=2, sizes=(64, 64, 32), k=4, seed=step)
        dtype = next(model.parameters()).dtype
        loss, _ = model.parse_losses(model.loss([x.to(dtype) for x in inputs], samples))
        wrapper.update_params(loss)
        losses.append(loss.item())
    return losses


def assert_same_weights(model, reference, rtol: float, atol: float) -> None:
    """Every parameter and buffer of the online and target networks, within the tolerance."""
    ref = dict(reference.state_dict())
    for name, value in model.state_dict().items():
        if value.is_floating_point():
            torch.testing.assert_close(value, ref[name], rtol=rtol, atol=atol, msg=name)
        else:
            assert torch.equal(value, ref[name]), name


def copies(model, n: int = 2):
    return [copy.deepcopy(model) for _ in range(n)]
