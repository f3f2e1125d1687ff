"""``tools/transfer_study.py run --task seg`` with the dense pretext arms, at toy scale on CamVid.

PLR (from scratch) and EDMoCo continued from ``--init`` (``init+edmoco``; the two cover both
methods and both starts, ``edmoco`` and ``init+plr`` take the same paths) pretrain an
encoder-decoder built from the study's FCN R18-D8 (one iteration each, mmengine Runners, real
CamVid frames); the segmenter of each arm starts from the pretrained backbone AND decoder, is
fine-tuned one iteration and scored by mmseg's IoUMetric.  The test asserts the path, never the
values.
"""
import json
import math
import os.path as osp

import pytest
import torch
import torchvision

from mmsoco.study.cli import main as cli_main
from mmsoco.study.seg_configs import segmentation_config
from test_segmentation_study import CAMVID, CLASSES, _args, _camvid_subset

ARMS = ('plr', 'init+edmoco')
pytestmark = pytest.mark.skipif(not osp.isdir(CAMVID), reason=f'CamVid not at {CAMVID}')


@pytest.fixture(scope='module')
def dense_study(tmp_path_factory):
    root = tmp_path_factory.mktemp('dense_study')
    seg_data = _camvid_subset(str(root / 'camvid'), n_train=2, n_val=1)
    torch.manual_seed(0)
    src = str(root / 'resnet18.pth')
    torch.save(torchvision.models.resnet18().state_dict(), src)
    work = str(root / 'work')
    code = cli_main(_args(seg_data, osp.join(seg_data, 'train'), work, '--arms', *ARMS,
                          '--init', src, '--seg-cfg-options', 'train_cfg.val_interval=1000'))
    assert code == 0
    with open(osp.join(work, 'results_seg-fcn.json')) as f:
        return seg_data, work, src, json.load(f)


def test_dense_arms_run_and_report(dense_study):
    _, work, _, result = dense_study
    names = [s['name'] for s in result['stages']]
    assert names == ['pretrain_images', 'pretrain_plr', 'convert_plr_mmseg-fcn',
                     'init_start_edmoco', 'pretrain_init+edmoco', 'convert_init+edmoco_mmseg-fcn',
                     'finetune_seg-fcn_plr_seed0', 'evaluate_seg-fcn_plr_seed0',
                     'finetune_seg-fcn_init+edmoco_seed0', 'evaluate_seg-fcn_init+edmoco_seed0']
    md = open(osp.join(work, 'results_seg-fcn.md')).read()
    for arm in ARMS:
        row = result['results'][arm]['mean']
        assert all(math.isfinite(row[k]) and 0 <= row[k] <= 100 for k in ('mIoU', 'mAcc', 'aAcc'))
        assert f'| {arm} | 0 |' in md


@pytest.mark.parametrize('arm', ARMS)
def test_segmenter_starts_from_the_pretrained_decoder(dense_study, arm):
    _, work, _, _ = dense_study
    pre = torch.load(osp.join(work, 'pretrain', arm, 'iter_1.pth'))['state_dict']
    conv = torch.load(osp.join(work, 'checkpoints', f'{arm}_r18_mmseg-fcn.pth'))['state_dict']
    assert sum(k.startswith('decode_head.') for k in conv) == 18  # FCNHead: 2 convs + concat
    for key in ('backbone.layer4.1.conv2.weight', 'decode_head.convs.1.conv.weight',
                'decode_head.conv_cat.bn.running_var'):
        assert torch.equal(conv[key], pre['backbone.' + key]), key
    assert not any(k.startswith('decode_head.conv_seg') for k in conv)
    rec = json.load(open(osp.join(work, 'stages', f'finetune_seg-fcn_{arm}_seed0.json')))
    assert rec['outputs']['init'].endswith(f'{arm}_r18_mmseg-fcn.pth')


def test_init_arms_start_from_the_init_model(dense_study):
    _, work, src, _ = dense_study
    tv = torch.load(src)
    state = torch.load(osp.join(work, 'checkpoints', 'init_r18_edmoco-start.pth'))['state_dict']
    assert torch.equal(state['backbone.backbone.layer2.0.conv1.weight'],
                       tv['layer2.0.conv1.weight'])
    # the key encoder = the query encoder; the decoder starts fresh
    assert torch.equal(state['encoder_k.module.0.backbone.layer2.0.conv1.weight'],
                       tv['layer2.0.conv1.weight'])
    assert not any('decode_head' in k for k in state)
    rec = json.load(open(osp.join(work, 'stages', 'init_start_edmoco.json')))
    assert 'backbone.decode_head' in rec['outputs']['new']


def test_another_decoder_gets_the_backbone_alone(dense_study, tmp_path):
    """Semantic FPN's head is not the pretrained FCNHead: backbone only, said in one line."""
    from mmsoco.study.dense_arms import transfer_dense
    from mmsoco.study.seg_study import SegTransferStudy
    seg_data, work, _, _ = dense_study
    cfg = segmentation_config(seg_data, CLASSES, 11, str(tmp_path), 'fpn-check', 1, 2,
                              model='fpn', depth=18)
    lines = []

    class Study:
        build_model = SegTransferStudy.build_model
        log = staticmethod(lines.append)

    dst = str(tmp_path / 'plr_fpn.pth')
    out = transfer_dense(osp.join(work, 'pretrain', 'plr', 'iter_1.pth'), dst, cfg, Study())
    assert out['decoder'] is None and out['decode_head'] == 0 and out['backbone'] == 120
    assert "the checkpoint pretrained a FCNHead decoder but the config's decode head is " \
        'FPNHead: the segmenter starts from the backbone alone' in lines[0]
    assert all(k.startswith('backbone.') for k in torch.load(dst)['state_dict'])


def test_dense_arms_are_for_seg_only(tmp_path, capsys):
    from mmsoco.study.cli import parse_args, settings_from_args
    from mmsoco.study.datasets import write_toy_set
    data = write_toy_set(str(tmp_path / 'toy'), max_side=64, num_val=4)
    args = parse_args(['run', '--arms', 'plr', '--device', 'cpu', '--pretrain-images',
                       data['img_root'], '--work-dir', str(tmp_path / 'w'), '--train-json',
                       data['train_json'], '--val-json', data['val_json'], '--img-root',
                       data['img_root']])
    with pytest.raises(ValueError, match=r"the arms \['plr'\] serve --task seg only"):
        settings_from_args(args)
