"""``tools/transfer_study.py run --task seg`` with the patch-level MoCo arms, at toy scale on
CamVid.

PLMoCo from scratch and PLEDMoCo continued from ``--init`` (``init+pledmoco``; the two cover both
methods and both starts) pretrain one iteration each on real CamVid frames (mmengine Runners);
PLMoCo's segmenter starts from its backbone, PLEDMoCo's from its backbone AND decoder (an
encoder-decoder built from the study's FCN R18-D8, the cells at its stride 8); each is fine-tuned
one iteration and scored by mmseg's IoUMetric.  The test asserts the path, never the values.
"""
import json
import math
import os.path as osp

import pytest
import torch
import torchvision

from mmsoco.study.cli import main as cli_main
from test_segmentation_study import CAMVID, _args, _camvid_subset

ARMS = ('plmoco', 'init+pledmoco')
pytestmark = pytest.mark.skipif(not osp.isdir(CAMVID), reason=f'CamVid not at {CAMVID}')


@pytest.fixture(scope='module')
def patch_study(tmp_path_factory):
    root = tmp_path_factory.mktemp('patch_study')
    seg_data = _camvid_subset(str(root / 'camvid'), n_train=2, n_val=1)
    torch.manual_seed(0)
    src = str(root / 'resnet18.pth')
    torch.save(torchvision.models.resnet18().state_dict(), src)
    work = str(root / 'work')
    code = cli_main(_args(seg_data, osp.join(seg_data, 'train'), work, '--arms', *ARMS,
                          '--init', src, '--seg-cfg-options', 'train_cfg.val_interval=1000'))
    assert code == 0
    with open(osp.join(work, 'results_seg-fcn.json')) as f:
        return work, src, json.load(f)


def test_patch_moco_arms_run_and_report(patch_study):
    work, _, result = patch_study
    names = [s['name'] for s in result['stages']]
    assert names == ['pretrain_images', 'pretrain_plmoco', 'convert_plmoco_mmseg-fcn',
                     'init_start_pledmoco', 'pretrain_init+pledmoco',
                     'convert_init+pledmoco_mmseg-fcn', 'finetune_seg-fcn_plmoco_seed0',
                     'evaluate_seg-fcn_plmoco_seed0', 'finetune_seg-fcn_init+pledmoco_seed0',
                     'evaluate_seg-fcn_init+pledmoco_seed0']
    md = open(osp.join(work, 'results_seg-fcn.md')).read()
    print(md)
    for arm in ARMS:
        row = result['results'][arm]['mean']
        assert all(math.isfinite(row[k]) and 0 <= row[k] <= 100 for k in ('mIoU', 'mAcc', 'aAcc'))
        assert f'| {arm} | 0 |' in md


def test_segmenters_start_from_the_pretrained_weights(patch_study):
    work, src, _ = patch_study
    # PLMoCo: the backbone only
    pre = torch.load(osp.join(work, 'pretrain', 'plmoco', 'iter_1.pth'))['state_dict']
    conv = torch.load(osp.join(work, 'checkpoints', 'plmoco_r18_mmseg-fcn.pth'))['state_dict']
    assert all(k.startswith('backbone.') for k in conv)
    assert torch.equal(conv['backbone.layer4.1.conv2.weight'],
                       pre['backbone.layer4.1.conv2.weight'])
    # PLEDMoCo: backbone and decoder, started from --init with its key encoder = query encoder
    pre = torch.load(osp.join(work, 'pretrain', 'init+pledmoco', 'iter_1.pth'))['state_dict']
    conv = torch.load(osp.join(work, 'checkpoints', 'init+pledmoco_r18_mmseg-fcn.pth'))[
        'state_dict']
    assert sum(k.startswith('decode_head.') for k in conv) == 18  # FCNHead: 2 convs + concat
    for key in ('backbone.layer4.1.conv2.weight', 'decode_head.convs.1.conv.weight'):
        assert torch.equal(conv[key], pre['backbone.' + key]), key
    start = torch.load(osp.join(work, 'checkpoints', 'init_r18_pledmoco-start.pth'))['state_dict']
    tv = torch.load(src)
    for key in ('backbone.backbone.layer2.0.conv1.weight',
                'encoder_k.module.0.backbone.layer2.0.conv1.weight'):
        assert torch.equal(start[key], tv['layer2.0.conv1.weight'])
    assert int(start['encoder_k.steps']) == 0
