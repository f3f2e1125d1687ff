"""The GPU throughput benchmark's own logic, on the CPU: its channels_last lever leaves the
losses unchanged (mmcv's RoIAlign reads its input as contiguous NCHW, so the FPN levels must be
made contiguous again), the lever sweep toggles one lever at a time, and peak figures are looked
up by device name."""
import copy
import importlib.util
import os.path as osp

import pytest
import torch

from mmsoco.registry import MODELS
from mmsoco.testing import REPO, model_cfg, random_batch

_spec = importlib.util.spec_from_file_location(
    'benchmark_gpu_throughput',
    osp.join(REPO, 'tools', 'benchmarks', 'benchmark_gpu_throughput.py'))
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def _tiny_model():
    from mmengine.logging import MessageHub
    MessageHub.get_current_instance().update_info('max_iters', 100)
    cfg = model_cfg('fpn', tiny=True)
    cfg.roi_pooling = 'single'
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model.train()


def _loss(model, batch):
    inputs, samples = batch
    losses = model.loss([x.clone() for x in inputs], samples)
    return sum(v for k, v in losses.items() if k.startswith('loss'))


def test_channels_last_lever_keeps_the_losses_and_needs_contiguous_fpn_levels():
    batch = random_batch(n=2, sizes=(96, 96, 48), k=4, seed=1)
    plain = _tiny_model()
    lever = copy.deepcopy(plain)
    bench.apply_levers(lever, ['channels_last'])
    assert lever.backbone.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    reference = _loss(plain, batch)
    assert _loss(lever, batch).item() == pytest.approx(reference.item(), abs=1e-4)

    # the hazard the lever guards against: channels_last FPN levels straight into RoIAlign
    unguarded = copy.deepcopy(plain)
    unguarded.to(memory_format=torch.channels_last)
    for net in (unguarded.backbone, unguarded.target_net.module['backbone']):
        net.register_forward_pre_hook(
            lambda m, args: (args[0].contiguous(memory_format=torch.channels_last), ))
    assert abs(_loss(unguarded, batch).item() - reference.item()) > 1e-3


def test_resolve_pooling_names_a_mode_the_model_accepts():
    name = bench.resolve_pooling('original')
    assert bench.resolve_pooling('all') == name
    assert bench.resolve_pooling('single') == 'single'
    cfg = model_cfg('fpn', tiny=True)
    cfg.roi_pooling = name
    assert MODELS.build(cfg).roi_pooling == name


def test_lever_sweep_toggles_one_lever_at_a_time():
    base_levers = {lv: lv == 'cudnn_benchmark' for lv in bench.LEVERS}
    args = bench.argparse.Namespace(
        device='cuda', data='.', workers=2, steps=3, warmup=1, batches=[64, 128],
        precisions=['tf32', 'bf16'], poolings=['single'], lever_sweep=True,
        lever_base=['128', 'bf16', 'single'], **base_levers)
    rows = bench.settings(args)
    matrix, sweep = rows[:4], rows[4:]
    assert [(r['batch'], r['precision']) for r in matrix] == [
        (64, 'tf32'), (64, 'bf16'), (128, 'tf32'), (128, 'bf16')]
    assert all(r['levers'] == ['cudnn_benchmark'] for r in matrix)
    assert all((r['batch'], r['precision'], r['pooling']) == (128, 'bf16', 'single')
               for r in sweep)
    # every sweep row but the last differs from the base in exactly one lever, each lever once
    # (the base row is not repeated); the last has every speed-up on and no control lever
    base = {'cudnn_benchmark'}
    toggled = [set(r['levers']) ^ base for r in sweep[:-1]]
    assert all(len(t) == 1 for t in toggled)
    assert sorted(t.pop() for t in toggled) == sorted(bench.LEVERS)
    *_, all_on = sweep
    assert set(all_on['levers']) == set(bench.LEVERS) - set(bench.CONTROLS)
    assert {'sgd', 'pageable'} <= set(bench.CONTROLS) and 'compile' not in bench.CONTROLS
    assert len({tuple(r['levers']) for r in rows[3:]}) == len(rows) - 3     # no row twice


# Dense tensor-core peaks from the architecture, not from the table: SMs x FLOP per SM per clock
# x boost clock.  NVIDIA's H100 whitepaper: each SM's four tensor cores do 2048 dense FP16/BF16
# FMA (4096 FLOP) per clock, TF32 half of that.  H200 is the same GH100 compute as H100 SXM
# (132 SMs, 1.83 GHz); H100 PCIe has 114 SMs at 1.62 GHz.
SXM = 132 * 4096 * 1.83e9 / 1e12
PCIE = 114 * 4096 * 1.62e9 / 1e12


@pytest.mark.parametrize('name,kind,bf16', [
    ('NVIDIA H100 80GB HBM3', 'H100 SXM', SXM),
    ('NVIDIA H100 PCIe', 'H100 PCIe', PCIE),
    ('NVIDIA H200', 'H200', SXM),
    ('NVIDIA A100-SXM4-80GB', None, None),
])
def test_peak_figures_by_device_name(name, kind, bf16):
    found, peak = bench.peak_tflops(name)
    assert found == kind
    if bf16 is None:
        assert peak is None
        return
    assert peak['bf16'] == pytest.approx(bf16, rel=2e-3)
    assert peak['fp16'] == peak['bf16']
    assert peak['tf32'] == pytest.approx(bf16 / 2, rel=2e-3)
