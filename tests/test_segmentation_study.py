"""``tools/transfer_study.py run --task seg`` end to end on a CPU, at toy scale, on real CamVid.

Real components throughout: CamVid street scenes and their masks (4 train and 2 val images of
``../shared/datasets/camvid``, linked, not copied), selective-search proposals on two of them,
SoCo R18-FPN and mmselfsup's BYOL R18 pretrained by mmengine Runners (one iteration each), the
soco2mmseg conversion (backbone and FPN) checked against the segmentor, Semantic FPN fine-tuned one
iteration per arm and scored by mmseg's IoUMetric.  The test asserts that every stage ran and
left what it should and that the report carries mIoU, mAcc and aAcc per arm, never their values.
"""
import json
import math
import os
import os.path as osp
import re

import pytest
import torch
from PIL import Image

from mmsoco.converters.to_mmseg import build_segmentor, convert_soco_checkpoint
from mmsoco.study.cli import main as cli_main
from mmsoco.study.cli import parse_args, settings_from_args
from mmsoco.study.seg_configs import segmentation_config
from mmsoco.study.seg_data import check_seg_folder
from transfer_utils import REPO

CAMVID = osp.join(osp.dirname(REPO), 'shared', 'datasets', 'camvid')
CLASSES = ['Sky', 'Building', 'Pole', 'Road', 'Pavement', 'Tree', 'SignSymbol', 'Fence', 'Car',
           'Pedestrian', 'Bicyclist']
ARMS = ('soco', 'byol', 'scratch')
pytestmark = pytest.mark.skipif(not osp.isdir(CAMVID), reason=f'CamVid not at {CAMVID}')


def _camvid_subset(root, n_train=4, n_val=2):
    """A folder in CamVid's layout linking the first images of each split."""
    for split, n in (('train', n_train), ('val', n_val)):
        os.makedirs(osp.join(root, split))
        os.makedirs(osp.join(root, f'{split}annot'))
        with open(osp.join(CAMVID, f'{split}.txt')) as f:
            names = [line.strip() for line in f if line.strip()][:n]
        for name in names:
            for sub in (split, f'{split}annot'):
                os.symlink(osp.join(CAMVID, sub, name + '.png'), osp.join(root, sub, name + '.png'))
        with open(osp.join(root, f'{split}.txt'), 'w') as f:
            f.write('\n'.join(names) + '\n')
    return root


def _args(seg_data, pretrain, work, *extra):
    return ['run', '--task', 'seg', '--device', 'cpu', '--pretrain-images', pretrain,
            '--seg-data', seg_data, '--ignore-index', '11', '--seg-classes', *CLASSES,
            '--work-dir', work, '--depth', '18', '--pretrain-iters', '1', '--pretrain-batch', '2',
            '--pretrain-size', '64', '--finetune-iters', '1', '--finetune-batch', '2',
            '--seg-scale', '64', '--seg-crop', '48', '--workers', '0', '--ckpt-interval', '1',
            *extra]


@pytest.fixture(scope='module')
def toy_seg_study(tmp_path_factory):
    root = tmp_path_factory.mktemp('seg_study')
    seg_data = _camvid_subset(str(root / 'camvid'))
    # pretraining images: two CamVid frames at half size (selective search is the slow part)
    pretrain = root / 'pretrain'
    pretrain.mkdir()
    for name in sorted(os.listdir(osp.join(seg_data, 'train')))[:2]:
        img = Image.open(osp.join(seg_data, 'train', name))
        img.resize((img.width // 2, img.height // 2)).save(str(pretrain / name))
    work = str(root / 'work')
    # Semantic FPN: SoCo's FPN is converted too; no validation inside the fine-tune (the
    # evaluation stage scores each arm)
    code = cli_main(_args(seg_data, str(pretrain), work, '--seg-model', 'fpn',
                          '--seg-cfg-options', 'train_cfg.val_interval=1000'))
    assert code == 0
    with open(osp.join(work, 'results_seg-fpn.json')) as f:
        result = json.load(f)
    return seg_data, work, result


def test_seg_study_runs_every_stage_and_reports_miou_per_arm(toy_seg_study):
    _, work, result = toy_seg_study
    assert [s['name'] for s in result['stages']] == [
        'pretrain_images', 'proposals', 'pretrain_soco', 'convert_soco_mmseg-fpn',
        'pretrain_byol', 'convert_byol_mmseg-fpn',
        'finetune_seg-fpn_soco_seed0', 'evaluate_seg-fpn_soco_seed0',
        'finetune_seg-fpn_byol_seed0', 'evaluate_seg-fpn_byol_seed0',
        'finetune_seg-fpn_scratch_seed0', 'evaluate_seg-fpn_scratch_seed0']
    for arm in ARMS:
        assert osp.isfile(osp.join(work, 'finetune', f'seg-fpn_{arm}_seed0', 'iter_1.pth'))
        assert result['loss_points'][f'finetune_seg-fpn_{arm}_seed0'] == 1
        entry = result['results'][arm]
        for row in (entry['seeds']['0'], entry['mean']):
            assert set(row) >= {'mIoU', 'mAcc', 'aAcc'}
            assert all(math.isfinite(row[k]) and 0 <= row[k] <= 100
                       for k in ('mIoU', 'mAcc', 'aAcc'))
    md = open(osp.join(work, 'results_seg-fpn.md')).read()
    assert '| arm | seed | mIoU | mAcc | aAcc |' in md and 'Semantic FPN R18 (BN)' in md
    for arm in ARMS:
        assert f'| {arm} | 0 |' in md
    assert osp.getsize(osp.join(work, 'loss_curves_seg-fpn.png')) > 10000


def test_pretrained_weights_reach_the_segmentor(toy_seg_study):
    _, work, _ = toy_seg_study
    soco = torch.load(osp.join(work, 'pretrain', 'soco', 'iter_1.pth'))['state_dict']
    conv = torch.load(osp.join(work, 'checkpoints', 'soco_r18_mmseg-fpn.pth'))['state_dict']
    for key in ('backbone.conv1.weight', 'backbone.layer4.1.bn2.running_var',
                'neck.lateral_convs.0.conv.weight', 'neck.fpn_convs.3.bn.weight'):
        assert torch.equal(conv[key], soco[key]), key
    assert not any(k.startswith(('head.', 'projector.', 'predictor.')) for k in conv)
    byol = torch.load(osp.join(work, 'pretrain', 'byol', 'iter_1.pth'))['state_dict']
    backbone = torch.load(osp.join(work, 'checkpoints', 'byol_r18_mmseg-fpn.pth'))['state_dict']
    assert set(backbone) == {k for k in byol if k.startswith('backbone.')}
    assert all(torch.equal(v, byol[k]) for k, v in backbone.items())
    for arm, ckpt in (('soco', 'soco_r18'), ('byol', 'byol_r18'), ('scratch', None)):
        rec = json.load(open(osp.join(work, 'stages', f'finetune_seg-fpn_{arm}_seed0.json')))
        init = rec['outputs']['init']
        assert (init is None) if ckpt is None else osp.basename(init).startswith(ckpt)


def test_fcn_study_config_takes_the_soco_backbone(toy_seg_study, tmp_path):
    """The other --seg-model: FCN R18-D8 built for these classes takes SoCo's R18 strictly."""
    seg_data, work, _ = toy_seg_study
    cfg = segmentation_config(seg_data, CLASSES, 11, str(tmp_path), 'fcn-check', 1, 2,
                              model='fcn', depth=18)
    assert cfg.model.decode_head.in_channels == 512 and cfg.model.decode_head.num_classes == 11
    conv = convert_soco_checkpoint(osp.join(work, 'pretrain', 'soco', 'iter_1.pth'), config=cfg)
    assert not conv.with_neck and all(k.startswith('backbone.') for k in conv.state_dict)
    model = build_segmentor(cfg).eval()
    with torch.no_grad():  # R18-D8: 11 class scores at stride 8
        assert model(torch.zeros(1, 3, 64, 64), mode='tensor').shape == (1, 11, 8, 8)


def test_init_arm_fine_tunes_an_existing_model(toy_seg_study, tmp_path):
    """--init: torchvision's ResNet-18 (random values, BN statistics too) reaches the segmentor
    of the ``init`` arm and is scored like the other arms."""
    import torchvision
    seg_data, _, _ = toy_seg_study
    g = torch.Generator().manual_seed(0)
    source = torchvision.models.resnet18(weights=None).state_dict()
    for value in source.values():
        if value.is_floating_point():
            value.copy_(torch.rand(value.shape, generator=g))
    src = str(tmp_path / 'resnet18.pth')
    torch.save(source, src)
    work = str(tmp_path / 'work')
    assert cli_main(_args(seg_data, seg_data, work, '--init', src, '--arms', 'init',
                          '--seg-cfg-options', 'train_cfg.val_interval=1000')) == 0
    result = json.load(open(osp.join(work, 'results_seg-fcn.json')))
    assert list(result['results']) == ['init']
    assert all(math.isfinite(v) for v in result['results']['init']['mean'].values())
    conv = torch.load(osp.join(work, 'checkpoints', 'init_r18_mmseg-fcn.pth'))['state_dict']
    assert torch.equal(conv['backbone.layer3.1.conv2.weight'], source['layer3.1.conv2.weight'])
    assert torch.equal(conv['backbone.bn1.running_var'], source['bn1.running_var'])


def test_mask_outside_the_class_list_stops_before_training(tmp_path, capsys):
    seg_data = _camvid_subset(str(tmp_path / 'camvid'), n_train=2, n_val=1)
    assert check_seg_folder(seg_data, 11, 11)['train'] == 2
    name = open(osp.join(seg_data, 'val.txt')).read().split()[0]
    bad = osp.join(seg_data, 'valannot', name + '.png')
    os.remove(bad)  # the link: write a real mask with an index no class has
    mask = Image.open(osp.join(CAMVID, 'valannot', name + '.png'))
    pixels = mask.load()
    pixels[5, 7] = 12
    mask.save(bad)
    work = str(tmp_path / 'work')
    code = cli_main(_args(seg_data, osp.join(seg_data, 'train'), work))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert bad in err[0] and '[12]' in err[0] and 'outside the class list' in err[0]
    assert not osp.exists(osp.join(work, 'stages')) or not os.listdir(osp.join(work, 'stages'))
    # 11, the first index past the 11 classes, through the CLI: CamVid's void, not ignored here
    code = cli_main(_args(seg_data, osp.join(seg_data, 'train'), work, '--ignore-index', '255'))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert re.search(r'\[11(, 12)?\]', err[0]) and 'outside the class list' in err[0], err
    # with a class list that reaches index 12 the same masks are fine (11 stays the void)
    assert check_seg_folder(seg_data, 13, 11)['val'] == 1
    with pytest.raises(ValueError, match=r'class indices \[11\] are outside'):
        check_seg_folder(seg_data, 11, 255)  # CamVid's void 11 without --ignore-index 11


def test_each_model_is_its_own_run_and_a_clash_is_refused_first(
        toy_seg_study, tmp_path, capsys):
    """FCN beside Semantic FPN in one work dir: two runs (seg-fcn, seg-fpn), neither touches the
    other; another mask set under a taken run name is refused before any stage."""
    seg_data, work, _ = toy_seg_study
    before = sorted(os.listdir(osp.join(work, 'stages')))
    fpn_md = open(osp.join(work, 'results_seg-fpn.md')).read()
    assert cli_main(_args(seg_data, seg_data, work, '--arms', 'scratch')) == 0
    result = json.load(open(osp.join(work, 'results_seg-fcn.json')))
    assert [s['name'] for s in result['stages']] == [
        'finetune_seg-fcn_scratch_seed0', 'evaluate_seg-fcn_scratch_seed0']
    assert open(osp.join(work, 'results_seg-fpn.md')).read() == fpn_md
    capsys.readouterr()
    other = _camvid_subset(str(tmp_path / 'other'), n_train=2, n_val=1)
    after = sorted(os.listdir(osp.join(work, 'stages')))
    pretrain = osp.join(osp.dirname(work), 'pretrain')  # the fixture's: its stages are kept
    assert cli_main(_args(other, pretrain, work, '--seg-model', 'fpn')) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "run name 'seg-fpn' is taken" in err[0] and 'seg_data' in err[0]
    assert sorted(os.listdir(osp.join(work, 'stages'))) == after and set(before) < set(after)


def test_a_missing_seg_data_folder_names_the_option(tmp_path, capsys):
    missing = str(tmp_path / 'no-such-folder')
    assert cli_main(_args(missing, str(tmp_path), str(tmp_path / 'work'))) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"--seg-data '{missing}' is not a folder" in err[0]


def test_the_study_evaluator_scores_a_perfect_prediction_100(tmp_path):
    """Void pixels (here 9, neither mmseg's 255 nor the config file's 11) predicted as a class
    must not count: the study's IoUMetric ignores the data's void."""
    from mmseg.registry import METRICS
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    classes, void = ['road', 'car', 'tree'], 9
    cfg = segmentation_config(str(tmp_path), classes, void, str(tmp_path), 'eval-check', 1, 1)
    metric = METRICS.build(cfg.test_evaluator)
    metric.dataset_meta = dict(classes=classes)
    gt = torch.tensor([[0, 0, 1, 1], [2, 2, void, void], [0, 1, 2, void]])
    pred = torch.where(gt == void, torch.zeros_like(gt), gt)  # void predicted as 'road'
    metric.process([], [dict(pred_sem_seg=dict(data=pred[None]),
                             gt_sem_seg=dict(data=gt[None]), img_path='x.png')])
    scores = metric.evaluate(1)
    assert scores['mIoU'] == 100 and scores['aAcc'] == 100, scores


@pytest.mark.parametrize('option', ['--run-name', '--det-name'])
def test_run_name_names_a_segmentation_run_too(option, tmp_path):
    """--run-name (and its old spelling --det-name) is part of a segmentation run's name, after
    the task and the model, so two mask sets of one model can share a work dir."""
    seg_data = _camvid_subset(str(tmp_path / 'camvid'), n_train=2, n_val=1)
    work = str(tmp_path / 'work')
    for model in ('fcn', 'fpn'):
        args = parse_args(_args(seg_data, seg_data, work, '--seg-model', model, option, 'masks2'))
        assert settings_from_args(args).run_name == f'seg-{model}-masks2'
    assert settings_from_args(parse_args(_args(seg_data, seg_data, work))).run_name == 'seg-fcn'
