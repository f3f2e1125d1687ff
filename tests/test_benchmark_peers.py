"""The GPU benchmark's peer rows and kernel profile, on the CPU at tiny size: the ResNet-50 and
BYOL steps train and report images/s and TFLOP/s (BYOL built from mmselfsup's own config), the
peers follow the first SoCo row at its batch and precision, SoCo's TFLOP/s is given as a ratio to
the ResNet-50 row's, and the profile writes a table of the top operators of one step."""
import argparse
import importlib.util
import os.path as osp

import pytest

from mmsoco.testing import REPO

BENCH = osp.join(REPO, 'tools', 'benchmarks')


def _load(name):
    spec = importlib.util.spec_from_file_location(name, osp.join(BENCH, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _load('benchmark_gpu_throughput')
peers = _load('benchmark_peers')


@pytest.mark.parametrize('peer', ['resnet50', 'byol'])
def test_peer_row_trains_and_reports_throughput(peer):
    # in its own process, as the benchmark runs a row (no registry scope set by the tests)
    row = bench.run_subprocess(dict(peer=peer, device='cpu', precision='fp32', batch=2, size=32,
                                    steps=1, warmup=1), timeout=600)
    assert 'error' not in row, row.get('stderr_tail')
    assert row['finite'] and row['img_s'] > 0 and row['tflops'] > 0
    # FLOPs per image: forward + backward ~ 3x the forward; ResNet-50's forward is 4.1 G
    # multiply-adds (8.2 GFLOP) at 224 px, so about 24.6 * (32 / 224)^2 GFLOP per image and view;
    # BYOL: two views, each online forward + backward and a target forward, and its MLPs
    resnet = 3 * 2 * 4.1 * (32 / 224) ** 2
    low, high = (0.9, 1.2) if peer == 'resnet50' else (8 / 3, 4.0)
    assert low * resnet < row['gflop_per_image'] < high * resnet


def test_byol_is_built_from_mmselfsups_config():
    model, wrapper = peers.byol_model_cfg()
    assert model['type'] == 'BYOL' and model['backbone']['depth'] == 50
    assert model['backbone']['norm_cfg']['type'] == 'BN'
    assert model['neck']['norm_cfg']['type'] == 'BN1d'
    assert model['head']['predictor']['norm_cfg']['type'] == 'BN1d'
    assert wrapper['optimizer']['type'] == 'LARS'


def test_peers_follow_the_first_row_and_soco_is_a_ratio_of_resnet50():
    args = argparse.Namespace(
        device='cuda', data='.', workers=2, steps=3, warmup=1,
        rows=[['64', 'bf16', 'single'], ['128', 'fp16', 'single']],
        lever_sweep=False, peers=['resnet50', 'byol'], peer_size=224,
        **{lv: False for lv in bench.LEVERS})
    rows = bench.settings(args)
    assert [r.get('peer') for r in rows] == [None, 'resnet50', 'byol', None]
    assert all((r['batch'], r['precision']) == (64, 'bf16') for r in rows[:3])
    done = [dict(rows[0], tflops=30.0, img_s=200.0),
            dict(rows[1], tflops=60.0, img_s=2000.0)]
    [line] = bench.peer_ratios(done)
    assert '= 0.50 x the ResNet-50 row' in line


def test_profile_writes_the_top_operators_of_one_step(tmp_path):
    _load('benchmark_pipeline').make_images(str(tmp_path), num_images=4)
    table = tmp_path / 'profile.txt'
    # in its own process, as the benchmark runs it (the loader's environment setup stays there)
    out = bench.run_subprocess(dict(device='cpu', data=str(tmp_path), workers=0, steps=1,
                                    warmup=1, batch=2, precision='fp32', pooling='single',
                                    levers=[], tiny=True, profile=str(table)), timeout=600)
    assert 'error' not in out, out.get('stderr_tail')
    lines = table.read_text().splitlines()
    assert lines[0].startswith('top 15 CPU operators') and len(lines) == 2 + 15
    assert len(out['kernels']) == 15
    ms = [k['ms'] for k in out['kernels']]
    assert ms == sorted(ms, reverse=True) and all(0 < k['share'] <= 1 for k in out['kernels'])
    assert any('conv' in k['name'] for k in out['kernels'])
