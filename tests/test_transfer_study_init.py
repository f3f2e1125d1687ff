"""``tools/transfer_study.py run --init CKPT``: the arms that start from an existing model, on a CPU
at toy scale (the toy set of tests/test_transfer_study.py, ResNet-18, 2 iterations per stage).

The source is torchvision's ResNet-18 with random weights.  The test asserts that the three arms
ran every stage, that the source's tensors reached the detector of ``init`` and the start of
both continued runs, and that the report lists the arms; at this scale AP says nothing.
"""
import glob
import json
import math
import os.path as osp

import pytest
import torch
import torchvision

from mmsoco.study import write_toy_set
from mmsoco.study.cli import main as cli_main

INIT_ARMS = ('init', 'init+soco', 'init+byol')


@pytest.fixture(scope='module')
def init_study(tmp_path_factory):
    root = tmp_path_factory.mktemp('init_study')
    data = write_toy_set(str(root / 'toy'), max_side=128, num_val=4)
    g = torch.Generator().manual_seed(0)
    source = torchvision.models.resnet18(weights=None).state_dict()
    for value in source.values():          # BN statistics too: nothing equals a fresh model
        if value.is_floating_point():
            value.copy_(torch.rand(value.shape, generator=g))
    src = str(root / 'resnet18.pth')
    torch.save(source, src)
    work = str(root / 'work')
    code = cli_main([
        'run', '--init', src, '--arms', *INIT_ARMS, '--depth', '18',
        '--pretrain-images', osp.join(str(root / 'toy'), 'images'),
        '--train-json', data['train_json'], '--val-json', data['val_json'],
        '--img-root', data['img_root'], '--work-dir', work, '--seeds', '0',
        '--pretrain-iters', '2', '--pretrain-batch', '2', '--pretrain-size', '64',
        '--finetune-iters', '2', '--finetune-batch', '2', '--det-scale', '128',
        '--workers', '0', '--device', 'cpu', '--ckpt-interval', '2',
        '--det-cfg-options', 'model.train_cfg.rpn_proposal.max_per_img=64',
        'model.train_cfg.rcnn.sampler.num=32', 'model.test_cfg.rpn.max_per_img=32'])
    assert code == 0
    return work, source, json.load(open(osp.join(work, 'results.json')))


def test_the_three_arms_run_every_stage_and_are_reported(init_study):
    work, _, result = init_study
    assert [s['name'] for s in result['stages']] == [
        'pretrain_images', 'proposals', 'init_start', 'convert_init',
        'pretrain_init+soco', 'convert_init+soco', 'pretrain_init+byol', 'convert_init+byol',
        'finetune_init_seed0', 'evaluate_init_seed0', 'finetune_init+soco_seed0',
        'evaluate_init+soco_seed0', 'finetune_init+byol_seed0', 'evaluate_init+byol_seed0']
    assert list(result['results']) == list(INIT_ARMS)
    for arm in INIT_ARMS:
        row = result['results'][arm]['seeds']['0']
        assert all(math.isfinite(row[k]) and 0 <= row[k] <= 100 for k in ('AP', 'AP50', 'AP75'))
        assert result['loss_points'][f'finetune_{arm}_seed0'] == 2
    for arm in ('init+soco', 'init+byol'):
        assert result['loss_points'][f'pretrain_{arm}'] == 2
    md = open(osp.join(work, 'results.md')).read()
    assert all(f'| {arm} | 0 |' in md for arm in INIT_ARMS)
    start = json.load(open(osp.join(work, 'stages', 'init_start.json')))['outputs']
    assert start['layout'] == 'torchvision' and start['provided'] == ['backbone']
    assert start['new'] == ['neck', 'head', 'projector', 'predictor']


def test_the_source_reaches_the_detector_and_both_continued_runs(init_study):
    work, source, _ = init_study
    resnet = {k: v for k, v in source.items() if not k.startswith('fc.')}
    ckpts = osp.join(work, 'checkpoints')
    det = torch.load(osp.join(ckpts, 'init_r18_mmdet-faster-rcnn.pth'))['state_dict']
    assert set(det) == {'backbone.' + k for k in resnet}
    soco = torch.load(osp.join(ckpts, 'init_r18_soco-start.pth'))['state_dict']
    byol = torch.load(osp.join(ckpts, 'init_r18_byol-start.pth'))['state_dict']
    for key, value in resnet.items():
        assert torch.equal(det['backbone.' + key], value), key
        for start, target in ((soco, 'target_net.module.backbone.'),
                              (byol, 'target_net.module.0.')):
            assert torch.equal(start['backbone.' + key], value), key
            assert torch.equal(start[target + key], value), key
    # each continued run loaded its start (mmengine logs the file it loads from)
    for arm, start in (('init+soco', 'init_r18_soco-start.pth'),
                       ('init+byol', 'init_r18_byol-start.pth')):
        [log] = glob.glob(osp.join(work, 'pretrain', arm, '*', '*.log'))
        assert f'Load checkpoint from {osp.join(ckpts, start)}' in open(log).read(), arm
