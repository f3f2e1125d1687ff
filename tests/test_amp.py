"""Mixed precision on the CPU side: ``--amp`` / ``apply_amp`` turn the shipped configs into
mmengine's AmpOptimWrapper with the chosen dtype, and a machine without a GPU gets one clear line
instead of mmengine's assert deep inside the Runner.  The GPU runs are in test_amp_gpu.py."""
import os
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from mmsoco.engine.amp import (DEFAULT_AMP_DTYPE, AmpUnavailableError, amp_dtype_name,
                               amp_optim_wrapper, apply_amp)
from mmsoco.testing import REPO

DEMO = osp.join(REPO, 'configs', 'soco', 'soco_resnet50-fpn_1xb4-coslr-2e_demo.py')
no_gpu = pytest.mark.skipif(torch.cuda.is_available(),
                            reason='checks the message for machines without a CUDA GPU')


def _demo_cfg():
    return Config.fromfile(DEMO)


@pytest.mark.parametrize('dtype,name,loss_scale', [
    ('bf16', 'bfloat16', dict(enabled=False)),    # bf16 has fp32's range: no loss scaling
    ('fp16', 'float16', 'dynamic'),
    ('float16', 'float16', 'dynamic'),
])
def test_amp_optim_wrapper_keeps_lars_and_sets_dtype(dtype, name, loss_scale, tmp_path):
    cfg = _demo_cfg()
    before = cfg.optim_wrapper.to_dict()
    cfg.optim_wrapper = amp_optim_wrapper(cfg.optim_wrapper, dtype)
    wrapper = cfg.optim_wrapper
    assert wrapper.type == 'AmpOptimWrapper'
    assert wrapper.dtype == name
    assert wrapper.loss_scale == loss_scale
    # the optimizer and its parameter-wise settings (LARS exclusions) are untouched
    assert wrapper.optimizer.to_dict() == before['optimizer']
    assert wrapper.paramwise_cfg.to_dict() == before['paramwise_cfg']
    # survives mmengine's dump and reload
    path = str(tmp_path / 'amp_cfg.py')
    cfg.dump(path)
    reloaded = Config.fromfile(path).optim_wrapper
    assert reloaded.type == 'AmpOptimWrapper'
    assert (reloaded.dtype, reloaded.loss_scale) == (name, loss_scale)


def test_fp16_keeps_a_configured_loss_scale():
    wrapper = amp_optim_wrapper(dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1),
                                     loss_scale=512.), 'fp16')
    assert wrapper['loss_scale'] == 512.


def test_bad_amp_requests_are_refused():
    with pytest.raises(ValueError, match="unknown AMP dtype 'int8'"):
        amp_optim_wrapper(dict(optimizer=dict(type='SGD', lr=0.1)), 'int8')
    with pytest.raises(ValueError, match="replaces an 'OptimWrapper'"):
        amp_optim_wrapper(dict(type='ApexOptimWrapper', optimizer=dict(type='SGD', lr=0.1)),
                          'bf16')


def test_fp32_config_passes_the_check_untouched():
    cfg = _demo_cfg()
    before = cfg.optim_wrapper.to_dict()
    apply_amp(cfg, None)
    assert cfg.optim_wrapper.to_dict() == before


@no_gpu
@pytest.mark.parametrize('dtype', ['bf16', 'fp16'])
def test_amp_without_gpu_is_one_clear_error(dtype):
    cfg = _demo_cfg()
    with pytest.raises(AmpUnavailableError) as err:
        apply_amp(cfg, dtype)
    message = str(err.value)
    assert '\n' not in message
    assert 'needs a CUDA GPU' in message and 'without --amp' in message
    # what the check saves the user from: mmengine's own assert, raised while the Runner builds
    with pytest.raises(AssertionError, match='only available training on gpu'):
        build_optim_wrapper(nn.Linear(2, 2), cfg.optim_wrapper)


@no_gpu
def test_amp_set_in_the_config_is_checked_too():
    cfg = _demo_cfg()
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.dtype = 'float16'
    with pytest.raises(AmpUnavailableError, match=r'mixed precision \(float16'):
        apply_amp(cfg, None)


@no_gpu
def test_train_tool_bare_amp_means_bf16_and_stops_with_one_line(tmp_path, run_tool, capsys):
    """tools/train.py in this process (run_tool): its exit message is the one line a user sees."""
    assert amp_dtype_name(DEFAULT_AMP_DTYPE) == 'bfloat16'
    with pytest.raises(SystemExit) as e:
        run_tool(osp.join(REPO, 'tools', 'train.py'), DEMO, '--amp', '--work-dir', str(tmp_path))
    message = str(e.value.code)
    assert message.startswith('error: mixed precision (bfloat16, AmpOptimWrapper) needs a '
                              'CUDA GPU') and '\n' not in message, message
    assert not capsys.readouterr().err
    assert not os.listdir(tmp_path)          # stopped before the Runner wrote anything


def test_bf16_autocast_step_on_cpu_keeps_fp32_where_it_must():
    """A real LARS step of SoCo under mmengine's CPU bf16 autocast (the GPU path's numerics;
    AmpOptimWrapper itself needs CUDA): FPN levels are bf16, mmcv's RoIAlign has no bf16 kernel,
    so the extractor pools in fp32; losses, weights, target and LARS buffers stay fp32."""
    from mmengine.logging import MessageHub
    from mmengine.runner.amp import autocast

    from mmsoco.registry import MODELS
    from mmsoco.testing import model_cfg, random_batch

    MessageHub.get_current_instance().update_info('max_iters', 100)
    torch.manual_seed(0)
    model = MODELS.build(model_cfg('fpn', tiny=True)).train()
    wrapper = build_optim_wrapper(model, dict(
        type='OptimWrapper', optimizer=dict(type='LARS', lr=0.1, momentum=0.9,
                                            weight_decay=1e-5)))
    inputs, samples = random_batch(n=2, sizes=(96, 96, 48), seed=0)
    with autocast(device_type='cpu', dtype=torch.bfloat16):
        assert model.neck(model.backbone(inputs[0]))[0].dtype == torch.bfloat16
    before = [p.detach().clone() for p in model.parameters()]
    for _ in range(2):
        with autocast(device_type='cpu', dtype=torch.bfloat16):
            losses = model.loss(inputs, samples)
        pairs = {k: v for k, v in losses.items() if k.startswith('loss')}
        assert {v.dtype for v in pairs.values()} == {torch.float32}
        loss = sum(pairs.values())
        assert torch.isfinite(loss)
        wrapper.update_params(loss)
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert {p.dtype for p in model.target_net.parameters()} == {torch.float32}
    buffers = [s['momentum_buffer'] for s in wrapper.optimizer.state.values()]
    assert buffers and {b.dtype for b in buffers} == {torch.float32}
    assert any(not torch.equal(a, p) for a, p in zip(before, model.parameters()))


def test_bf16_autocast_c4_pools_in_fp32():
    """The C4 variant pools C4 (bf16 under autocast) with the same extractor: without the fp32
    pooling mmcv's RoIAlign raises "not implemented for 'BFloat16'"."""
    from mmengine.logging import MessageHub
    from mmengine.runner.amp import autocast

    from mmsoco.registry import MODELS
    from mmsoco.testing import model_cfg, random_batch

    MessageHub.get_current_instance().update_info('max_iters', 100)
    torch.manual_seed(0)
    model = MODELS.build(model_cfg('c4')).train()
    inputs, samples = random_batch(n=2, sizes=(96, 96), seed=0)
    with autocast(device_type='cpu', dtype=torch.bfloat16):
        assert model.backbone(inputs[0])[0].dtype == torch.bfloat16
        losses = model.loss(inputs, samples)
    pairs = {k: v for k, v in losses.items() if k.startswith('loss')}
    assert set(pairs) == {'loss_v1_v2', 'loss_v2_v1'}
    assert {v.dtype for v in pairs.values()} == {torch.float32}
    assert all(torch.isfinite(v) for v in pairs.values())
