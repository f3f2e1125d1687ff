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
    # one row per lever toggled against the base (cudnn_benchmark toggled off is new), all on;
    # the base row itself is not repeated
    assert [r['levers'] for r in sweep] == [
        ['channels_last', 'cudnn_benchmark'], [], ['compile', 'cudnn_benchmark'],
        ['cudnn_benchmark', 'non_blocking'], ['cudnn_benchmark', 'sgd'],
        ['cudnn_benchmark', 'pageable'],
        ['channels_last', 'cudnn_benchmark', 'compile', 'non_blocking']]


@pytest.mark.parametrize('name,kind,bf16', [
    ('NVIDIA H100 80GB HBM3', 'H100 SXM', 989.4),
    ('NVIDIA H100 PCIe', 'H100 PCIe', 756.0),
    ('NVIDIA H200', 'H200', 989.4),
    ('NVIDIA A100-SXM4-80GB', None, None),
])
def test_peak_figures_by_device_name(name, kind, bf16):
    found, peak = bench.peak_tflops(name)
    assert found == kind
    assert (peak['bf16'] if peak else None) == bf16
