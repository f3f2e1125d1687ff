"""The transfer study (tools/transfer_study.py) end to end on a CPU, at toy scale.

The toy run uses real components throughout: photos bundled with scikit-image with hand-placed
boxes (data_prep/skimage_boxes.json) as the labelled set and as the pretraining images, their
selective-search proposals, SoCo R50-FPN and mmselfsup's BYOL R50 pretrained by mmengine Runners,
the soco2mmdet conversion, Faster R-CNN R50-FPN fine-tuned and evaluated by mmdet's CocoMetric.
Only the budgets are tiny (2 iterations, batch 2, 64 px views, 128 px detection images), so the
test asserts that every stage ran and left what it should, never AP values.
"""
import json
import math
import os
import os.path as osp
import shutil

import pytest
import torch
from mmengine.config import Config

from mmsoco.study import (DetStudySettings, DetTransferStudy, StageBook, StageMismatchError,
                          fixed_split, write_toy_set)
from mmsoco.study.cli import main as cli_main
from mmsoco.study.configs import STUDY_CONFIGS
from mmsoco.study.datasets import read_names

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
RACCOON = osp.join(osp.dirname(REPO), 'shared', 'datasets', 'raccoon')
ARMS = ('soco', 'byol', 'scratch')


def test_fixed_split_is_deterministic_disjoint_and_complete():
    names = [f'img{i:03d}.jpg' for i in range(50)]
    train, val = fixed_split(names[::-1], 10, seed=0)  # input order does not matter
    assert (train, val) == fixed_split(names, 10, seed=0)
    assert len(val) == 10 and sorted(train + val) == names and not set(train) & set(val)
    assert fixed_split(names, 10, seed=1)[1] != val
    with pytest.raises(ValueError, match='num_val'):
        fixed_split(names, 50)


@pytest.mark.parametrize('depth', [18, 50])
def test_report_names_the_resnet_depth_the_arms_ran_with(depth):
    from mmsoco.study.report import _markdown
    md = _markdown({}, {}, dict(depth=depth))
    assert f'Faster R-CNN R{depth}-FPN' in md and 'R50' not in md.replace(f'R{depth}', '')


@pytest.mark.parametrize(
    'name', sorted(f for f in os.listdir(STUDY_CONFIGS) if f.endswith('.py')))
def test_study_configs_survive_dump_and_reload(name, tmp_path):
    cfg = Config.fromfile(osp.join(STUDY_CONFIGS, name))
    cfg.dump(str(tmp_path / name))
    assert Config.fromfile(str(tmp_path / name)).to_dict() == cfg.to_dict()
    if name.startswith('faster-rcnn'):  # one detector for every arm, nothing downloaded
        head = cfg.model.roi_head.bbox_head
        assert head.type == 'Shared4Conv1FCBBoxHead' and head.norm_cfg.type == 'BN'
        assert cfg.model.backbone.init_cfg is None and cfg.model.backbone.frozen_stages == -1


def test_stage_book_keeps_refuses_and_restarts_cleanly(tmp_path):
    book = StageBook(str(tmp_path), log=lambda msg: None)
    calls = []
    first = book.run('a', dict(iters=2), lambda: calls.append(1) or dict(out=1))
    again = StageBook(str(tmp_path), log=lambda msg: None).run('a', dict(iters=2), calls.clear)
    assert calls == [1] and not first.kept and again.kept and again.outputs == dict(out=1)
    with pytest.raises(StageMismatchError, match="'a'"):
        book.run('a', dict(iters=3), lambda: {})

    # killed: no marker, so it runs again; with other settings its work dir goes first
    work = tmp_path / 'run_b'
    work.mkdir()
    (work / 'iter_1.pth').write_text('x')

    def killed():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        book.run('b', dict(iters=2), killed, str(work))
    assert book.load('b') is None and (work / 'iter_1.pth').exists()
    with pytest.raises(KeyboardInterrupt):
        book.run('b', dict(iters=2), killed, str(work))  # same settings: resumable, kept
    assert (work / 'iter_1.pth').exists()
    book.run('b', dict(iters=4), lambda: dict(files=os.listdir(work) if work.exists() else []),
             str(work))
    assert book.load('b').outputs == dict(files=[])


@pytest.mark.skipif(not osp.isdir(RACCOON), reason=f'raccoon dataset not at {RACCOON}')
def test_raccoon_split_is_the_committed_one(tmp_path):
    assert cli_main(['split', 'voc', RACCOON, '--val', '40', '--seed', '0',
                     '--out', str(tmp_path)]) == 0
    for split, n in (('train', 160), ('val', 40)):
        committed = read_names(osp.join(REPO, 'configs', 'study', 'splits',
                                        f'raccoon_{split}.txt'))
        assert read_names(str(tmp_path / f'{split}.txt')) == committed and len(committed) == n
        coco = json.load(open(tmp_path / f'{split}.json'))
        assert sorted(i['file_name'] for i in coco['images']) == committed
        assert coco['categories'] == [dict(id=1, name='raccoon')]


def test_a_wrong_img_root_is_one_line_before_any_stage(tmp_path, capsys):
    """The images, annotations and split are checked before any stage: a wrong --img-root is one
    line naming the option, not a DataLoader traceback after the pretraining."""
    data = write_toy_set(str(tmp_path / 'toy'), max_side=64, num_val=4)
    work = tmp_path / 'work'
    code = cli_main(['run', '--arms', 'scratch', '--device', 'cpu', '--workers', '0',
                     '--train-json', data['train_json'], '--val-json', data['val_json'],
                     '--img-root', str(tmp_path / 'toy'), '--work-dir', str(work),
                     '--finetune-iters', '1', '--finetune-batch', '1', '--det-scale', '64'])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert '--img-root' in err[0] and '14 of 14 images of --train-json' in err[0]
    assert not (work / 'finetune').exists() and not os.listdir(work / 'stages')


def test_split_check_names_what_is_wrong(tmp_path):
    from mmsoco.study.det_data import check_coco_split
    data = write_toy_set(str(tmp_path / 'toy'), max_side=64, num_val=4)
    boxes = len(json.load(open(data['train_json']))['annotations'])
    assert check_coco_split(data['train_json'], data['val_json'], data['img_root']) == dict(
        train=14, val=4, boxes=boxes)
    with pytest.raises(ValueError, match='4 images are in both --train-json and --val-json'):
        check_coco_split(data['val_json'], data['val_json'], data['img_root'])
    (tmp_path / 'bad.json').write_text('{"images": []}')
    with pytest.raises(ValueError, match='--val-json .*bad.json: no annotations, categories'):
        check_coco_split(data['train_json'], str(tmp_path / 'bad.json'), data['img_root'])


def test_a_registered_method_is_an_arm_everywhere(tmp_path):
    """One entry in each table of mmsoco.study.arms makes a new arm: its option, its settings
    key and its pretraining config."""
    from mmsoco.study.arms import (ARM_TABLE, METHODS, Arm, Method, register_arm,
                                   register_method, transfer_backbone)
    from mmsoco.study.cli import parse_args, settings_from_args
    from mmsoco.study.configs import byol_config
    data = write_toy_set(str(tmp_path / 'toy'), max_side=64, num_val=4)

    def config(data, **budget):  # BYOL under another name
        return byol_config(data.image_root, data.list_file, **budget)

    with pytest.raises(ValueError, match="no pretraining method 'byol2'"):
        register_arm(Arm('byol2', 'byol2'))
    register_method(Method('byol2', config, transfer_backbone))
    register_arm(Arm('byol2', 'byol2'))
    try:
        args = parse_args(['run', '--arms', 'byol2', 'scratch', '--device', 'cpu',
                           '--pretrain-images', data['img_root'], '--work-dir',
                           str(tmp_path / 'work'), '--train-json', data['train_json'],
                           '--val-json', data['val_json'], '--img-root', data['img_root'],
                           '--byol2-cfg-options', 'model.base_momentum=0.9'])
        settings = settings_from_args(args)
        assert settings.arms == ['scratch', 'byol2']  # table order
        study = DetTransferStudy(settings, log=lambda msg: None)
        cfg = study.pretrain_config('byol2', str(tmp_path / 'work' / 'pretrain' / 'byol2'))
        assert cfg.model.base_momentum == 0.9 and cfg.train_cfg.max_iters == 1000
        assert study._transfer('byol2') is transfer_backbone
    finally:
        ARM_TABLE.pop('byol2')
        METHODS.pop('byol2')


@pytest.fixture(scope='module')
def toy_study(tmp_path_factory):
    """The toy study, run once for the tests below; removed after them (2 GB of checkpoints)."""
    root = tmp_path_factory.mktemp('study')
    data = write_toy_set(str(root / 'toy'), max_side=128, num_val=4)
    # R50 everywhere (the study's default): the toy budgets keep it quick enough on a CPU
    settings = DetStudySettings(
        pretrain_images=[osp.join(str(root / 'toy'), 'images')],
        train_json=data['train_json'], val_json=data['val_json'], img_root=data['img_root'],
        work_dir=str(root / 'work'), arms=list(ARMS), seeds=[0], pretrain_iters=2,
        pretrain_batch=2, pretrain_size=64, finetune_iters=2, finetune_batch=2, det_scale=128,
        depth=50, workers=0, device='cpu', ckpt_interval=2,
        # the 4conv1fc head on 512 sampled RoIs per image is most of a CPU step: fewer RoIs
        cfg_options=dict(det={'model.train_cfg.rpn_proposal.max_per_img': 64,
                              'model.train_cfg.rcnn.sampler.num': 32,
                              'model.test_cfg.rpn.max_per_img': 32}))
    result = DetTransferStudy(settings, log=lambda msg: None).run()
    yield settings, data, result
    shutil.rmtree(str(root), ignore_errors=True)


def test_toy_study_runs_every_stage_of_every_arm(toy_study):
    settings, data, result = toy_study
    work = settings.work_dir
    stages = [s['name'] for s in result['stages']]
    assert stages == ['pretrain_images', 'proposals', 'pretrain_soco', 'convert_soco',
                      'pretrain_byol', 'convert_byol',
                      'finetune_soco_seed0', 'evaluate_soco_seed0',
                      'finetune_byol_seed0', 'evaluate_byol_seed0',
                      'finetune_scratch_seed0', 'evaluate_scratch_seed0']
    for s in result['stages']:
        assert osp.isfile(osp.join(work, 'stages', s['name'] + '.json'))
        assert s['seconds'] >= 0 and not s['kept']
    n_images = data['train'] + data['val']
    assert json.load(open(osp.join(work, 'stages', 'pretrain_images.json')))['outputs'][
        'images'] == n_images
    # each training stage ran its iterations and logged its loss every iteration
    for arm in ('soco', 'byol'):
        assert osp.isfile(osp.join(work, 'pretrain', arm, 'iter_2.pth'))
        assert result['loss_points'][f'pretrain_{arm}'] == 2
    for arm in ARMS:
        assert osp.isfile(osp.join(work, 'finetune', f'{arm}_seed0', 'iter_2.pth'))
        assert result['loss_points'][f'finetune_{arm}_seed0'] == 2
    # the table: every arm, every seed, finite AP / AP50 / AP75 and their mean
    for arm in ARMS:
        entry = result['results'][arm]
        assert list(entry['seeds']) == ['0']
        for row in (entry['seeds']['0'], entry['mean']):
            assert all(math.isfinite(row[k]) and 0 <= row[k] <= 100
                       for k in ('AP', 'AP50', 'AP75'))
    md = open(osp.join(work, 'results.md')).read()
    for arm in ARMS:
        assert f'| {arm} | 0 |' in md
    assert osp.getsize(osp.join(work, 'loss_curves.png')) > 10000


def test_pretrained_weights_reach_the_detector(toy_study):
    settings, _, _ = toy_study
    work = settings.work_dir
    soco = torch.load(osp.join(work, 'pretrain', 'soco', 'iter_2.pth'))['state_dict']
    converted = torch.load(osp.join(work, 'checkpoints', 'soco_r50_mmdet-faster-rcnn.pth'))[
        'state_dict']
    # backbone, FPN and the 4conv1fc box head come from SoCo's online network
    for det_key, soco_key in (('backbone.conv1.weight', 'backbone.conv1.weight'),
                              ('neck.fpn_convs.3.conv.weight', 'neck.fpn_convs.3.conv.weight'),
                              ('roi_head.bbox_head.shared_convs.0.conv.weight',
                               'head.shared_convs.0.conv.weight'),
                              ('roi_head.bbox_head.shared_fcs.0.weight',
                               'head.shared_fcs.0.weight')):
        assert torch.equal(converted[det_key], soco[soco_key]), det_key
    byol = torch.load(osp.join(work, 'pretrain', 'byol', 'iter_2.pth'))['state_dict']
    backbone = torch.load(osp.join(work, 'checkpoints', 'byol_r50_mmdet-faster-rcnn.pth'))[
        'state_dict']
    assert set(backbone) == {k for k in byol if k.startswith('backbone.')}
    assert all(torch.equal(v, byol[k]) for k, v in backbone.items())
    # ... and the fine-tuning runs started from them (load_from in the logged config)
    for arm, ckpt in (('soco', 'soco_r50'), ('byol', 'byol_r50'), ('scratch', None)):
        rec = json.load(open(osp.join(work, 'stages', f'finetune_{arm}_seed0.json')))
        assert (rec['outputs']['init'] is None) == (ckpt is None)
        if ckpt:
            assert osp.basename(rec['outputs']['init']).startswith(ckpt)


def test_rerun_keeps_finished_stages_and_resumes_a_killed_one(toy_study):
    settings, _, first = toy_study
    work = settings.work_dir
    # as if killed after its last checkpoint but before its marker: the stage resumes from
    # the checkpoint (no iteration left) and the evaluation runs again on the same weights
    for name in ('finetune_scratch_seed0', 'evaluate_scratch_seed0'):
        os.remove(osp.join(work, 'stages', name + '.json'))
    lines = []
    again = DetTransferStudy(settings, log=lines.append).run()
    kept = {s['name']: s['kept'] for s in again['stages']}
    assert kept.pop('finetune_scratch_seed0') is False
    assert kept.pop('evaluate_scratch_seed0') is False
    assert all(kept.values())
    assert any('resuming from' in line and 'iter_2.pth' in line for line in lines)
    assert again['results']['scratch'] == first['results']['scratch']
    assert again['results']['soco'] == first['results']['soco']


def test_a_named_labelled_set_reuses_the_pretraining(toy_study):
    settings, _, _ = toy_study
    named = DetStudySettings(**dict(vars(settings), arms=['soco'], name='second'))
    result = DetTransferStudy(named, log=lambda msg: None).run()
    assert {s['name']: s['kept'] for s in result['stages']} == {
        'pretrain_images': True, 'proposals': True, 'pretrain_soco': True, 'convert_soco': True,
        'finetune_second_soco_seed0': False, 'evaluate_second_soco_seed0': False}
    assert osp.isfile(osp.join(settings.work_dir, 'results_second.md'))
    assert all(math.isfinite(v) for v in result['results']['soco']['mean'].values())


def test_changed_budget_is_refused_not_mixed(toy_study):
    settings, _, _ = toy_study
    changed = DetStudySettings(**dict(vars(settings), finetune_iters=3))
    with pytest.raises(StageMismatchError, match='finetune_soco_seed0'):
        DetTransferStudy(changed, log=lambda msg: None).run()
