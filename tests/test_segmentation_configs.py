"""Every segmentation config (configs/segmentation): its protocol, a real load, a run on CamVid.

* The config states its protocol: mmselfsup's benchmarks and the notes' mmseg decoders are
  mmseg's own recipe with only the start changed (compared key by key with the recipe), MoCo's VOC
  protocol has each setting of the MoCo paper's appendix (docs/segmentation.md).
* The real mmengine Runner builds each config (SyncBN becomes BN on one CPU process) and the
  model's ``init_weights`` loads a converted SoCo checkpoint through the config's ``init_cfg``:
  every backbone (and FPN) tensor of the segmentor must equal the SoCo tensor it comes from.
* One config per model and train pipeline trains 2 iterations on real CamVid images and masks
  (small crops, CamVid's void 11 ignored) and validates: the evaluation returns a finite mIoU.
"""
import copy
import math
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from mmsoco.converters.to_mmseg import (check_against_segmentor, convert_state_dict,
                                        save_mmseg_checkpoint)
from mmsoco.study.seg_configs import set_ignore_index
from transfer_utils import REPO, _find, soco_state_dict

SEG_DIR = osp.join(REPO, 'configs', 'segmentation')
SEG_CONFIGS = sorted(f for f in os.listdir(SEG_DIR) if f.endswith('.py'))
CAMVID = osp.join(osp.dirname(REPO), 'shared', 'datasets', 'camvid')
CAMVID_CLASSES = ('Sky', 'Building', 'Pole', 'Road', 'Pavement', 'Tree', 'SignSymbol', 'Fence',
                  'Car', 'Pedestrian', 'Bicyclist')
CAMVID_VOID = 11
MOCO = 'fcn-d6_r50-d16_soco-100e_4xb4-30k_voc12aug-513x513.py'
#: the mmseg recipe each config starts from, when it changes nothing but the start
RECIPES = {
    'fcn_r50-d8_soco-100e_4xb4-20k_voc12aug-512x512.py':
        'fcn/fcn_r50-d8_4xb4-20k_voc12aug-512x512.py',
    'fcn_r50-d8_soco-100e_4xb2-40k_cityscapes-769x769.py':
        'fcn/fcn_r50-d8_4xb2-40k_cityscapes-769x769.py',
    'pspnet_r50-d8_soco-100e_4xb4-20k_voc12aug-512x512.py':
        'pspnet/pspnet_r50-d8_4xb4-20k_voc12aug-512x512.py',
    'deeplabv3plus_r50-d8_soco-100e_4xb4-20k_voc12aug-512x512.py':
        'deeplabv3plus/deeplabv3plus_r50-d8_4xb4-20k_voc12aug-512x512.py',
    'nonlocal_r50-d8_soco-100e_4xb4-20k_voc12aug-512x512.py':
        'nonlocal_net/nonlocal_r50-d8_4xb4-20k_voc12aug-512x512.py',
}
RANDOM_INIT = 'fcn-d6_r50-d16_random-init_4xb4-poly-160k_voc12aug-513x513.py'
_COS, _LIN, _POLY = 'CosineAnnealingLR', 'LinearLR', 'PolyLR'
#: the dense pretext notes' schedules (docs/dense_pretext.md): config -> (the config whose model
#: and data it keeps, scheduler, lr at the start, lr at the end, iterations)
SCHEDULES = {
    'fcn-d6_r50-d16_soco-100e_4xb4-coslr-30k_voc12aug-513x513.py': (MOCO, _COS, 5e-3, 5e-5, 30000),
    'fcn-d6_r50-d16_soco-100e_4xb4-linearlr-30k_voc12aug-513x513.py':
        (MOCO, _LIN, 3e-3, 3e-5, 30000),
    RANDOM_INIT: (MOCO, _POLY, 1e-2, 1e-4, 160000),
    **{f'{dec}_r50-d8_soco-100e_4xb4-{sched}-30k_voc12aug-512x512.py':
       (f'{dec}_r50-d8_soco-100e_4xb4-20k_voc12aug-512x512.py',) + values
       for dec, sched, values in [
           ('pspnet', 'coslr', (_COS, 5e-3, 5e-5, 30000)),
           ('pspnet', 'linearlr', (_LIN, 3e-3, 3e-5, 30000)),
           ('deeplabv3plus', 'coslr', (_COS, 5e-3, 5e-5, 30000)),
           ('deeplabv3plus', 'linearlr', (_LIN, 3e-3, 3e-5, 30000)),
           ('nonlocal', 'coslr', (_COS, 5e-3, 5e-5, 30000))]},
}


def _cfg(config):
    return Config.fromfile(osp.join(SEG_DIR, config))


def _unscoped(cfg):
    """A config dict without the ``_scope_`` keys mmengine adds to what ``mmseg::`` bases bring."""
    if isinstance(cfg, dict):
        return {k: _unscoped(v) for k, v in cfg.items() if k != '_scope_'}
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(_unscoped(v) for v in cfg)
    return cfg


def _has_neck(config):
    return _cfg(config).model.get('neck') is not None


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    """Converted SoCo R50-FPN checkpoints: backbone only, and backbone + FPN."""
    root = tmp_path_factory.mktemp('seg_converted')
    out = {}
    for with_neck in (False, True):
        conv = convert_state_dict(soco_state_dict('fpn'), with_neck=with_neck)
        path = str(root / f'soco_mmseg_neck{int(with_neck)}.pth')
        save_mmseg_checkpoint(conv, path)
        out[with_neck] = conv, path
    return out


@pytest.fixture(autouse=True)
def keep_default_scope():
    """Drop the 'mmseg' DefaultScope each Runner creates, so later tests keep their scope."""
    before = set(DefaultScope._instance_dict)
    yield
    for name in set(DefaultScope._instance_dict) - before:
        DefaultScope._instance_dict.pop(name)


# --------------------------------------------------------------------------- the protocol
def test_every_protocol_of_the_issue_has_a_config():
    names = set(SEG_CONFIGS)
    assert set(RECIPES) | {MOCO, 'fpn_r50_soco-100e_4xb4-20k_voc12aug-512x512.py'} | \
        set(SCHEDULES) == names


@pytest.mark.parametrize('config', SEG_CONFIGS)
def test_config_starts_from_soco_as_pretrained(config):
    cfg = _cfg(config)
    model = cfg.model
    backbone = model.backbone
    # plain-stem ResNet-50, every stage fine-tuned with SyncBN (as pretrained), nothing downloaded
    assert (backbone.type, backbone.depth, backbone.style) == ('ResNet', 50, 'pytorch')
    assert backbone.frozen_stages == -1 and backbone.norm_eval is False
    assert backbone.norm_cfg.type == 'SyncBN' and model.pretrained is None
    init = backbone.init_cfg
    if config == RANDOM_INIT:
        assert init is None
        return
    assert (init.type, init.prefix) == ('Pretrained', 'backbone.')
    assert init.checkpoint.startswith('checkpoints/soco_r50-fpn_mmseg')
    assert 'custom_imports' not in cfg  # plain mmseg modules: no plugin to import
    if model.get('neck') is not None:  # Semantic FPN: SoCo's FPN, its BN as pretrained
        neck = model.neck
        assert (neck.type, neck.in_channels, neck.out_channels, neck.num_outs) == \
            ('FPN', [256, 512, 1024, 2048], 256, 4)
        assert neck.get('start_level', 0) == 0 and neck.norm_cfg.type == 'SyncBN'
        assert (neck.init_cfg.type, neck.init_cfg.prefix) == ('Pretrained', 'neck.')
        assert neck.init_cfg.checkpoint == init.checkpoint
        assert model.decode_head.type == 'FPNHead' and model.decode_head.num_classes == 21
    for head in (model.decode_head, model.get('auxiliary_head')):
        if head:
            assert head.norm_cfg.type == 'SyncBN'


@pytest.mark.parametrize('config', sorted(RECIPES))
def test_benchmark_config_is_the_mmseg_recipe_with_another_start(config):
    """mmselfsup's benchmarks and the notes' decoders: the recipe, only the start differs."""
    ours = _unscoped(_cfg(config).to_dict())
    import mmseg
    recipe = Config.fromfile(osp.join(osp.dirname(mmseg.__file__), '.mim', 'configs',
                                      RECIPES[config])).to_dict()
    assert recipe['model']['backbone']['type'] == 'ResNetV1c'
    assert recipe['model']['pretrained'] == 'open-mmlab://resnet50_v1c'
    for cfg in (ours, recipe):
        cfg['model'].pop('pretrained')
        for key in ('type', 'init_cfg', 'frozen_stages'):
            cfg['model']['backbone'].pop(key, None)
    assert ours == recipe


def test_moco_config_states_the_moco_voc_protocol():
    cfg = _cfg(MOCO)
    model = cfg.model
    # ResNet-50, output stride 16: conv5 at stride 1 with every 3x3 conv at dilation 2
    assert model.backbone.strides == (1, 2, 2, 1) and model.backbone.dilations == (1, 1, 1, 2)
    assert model.backbone.contract_dilation is False
    # two 3x3 convs, 256 channels, BN + ReLU, dilation 6, then the 1x1 classifier; no aux head
    head = model.decode_head
    assert (head.type, head.num_convs, head.kernel_size, head.channels, head.dilation) == \
        ('FCNHead', 2, 3, 256, 6)
    assert head.concat_input is False and head.in_channels == 2048 and head.num_classes == 21
    assert model.auxiliary_head is None
    # crop 513, 16 images per iteration (4 GPUs x 4), scaling x0.5-2.0, flips
    pipeline = cfg.train_dataloader.dataset.datasets[0].pipeline
    assert cfg.train_dataloader.dataset.datasets[1].pipeline == pipeline
    types = [t.type for t in pipeline]
    assert types == ['LoadImageFromFile', 'LoadAnnotations', 'RandomResize', 'RandomCrop',
                     'RandomFlip', 'Pad', 'PackSegInputs']
    assert pipeline[2].ratio_range == (0.5, 2.0) and pipeline[3].crop_size == (513, 513)
    assert pipeline[3].get('cat_max_ratio', 1.0) == 1.0
    assert model.data_preprocessor.size == (513, 513)
    assert cfg.train_dataloader.batch_size * 4 == 16
    # SGD weight decay 1e-4, lr 0.003, x0.1 at 70% and 90% of 30k iterations
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.weight_decay, opt.momentum) == ('SGD', 0.003, 1e-4, 0.9)
    [step] = cfg.param_scheduler
    iters = cfg.train_cfg.max_iters
    assert step.type == 'MultiStepLR' and step.gamma == 0.1 and iters == 30000
    assert step.milestones == [round(0.7 * iters), round(0.9 * iters)]
    # test on the whole image at its size
    assert model.test_cfg.mode == 'whole'
    assert [t.type for t in cfg.val_dataloader.dataset.pipeline] == \
        ['LoadImageFromFile', 'LoadAnnotations', 'PackSegInputs']
    # the recipe's VOC 2012 aug data (train + SBD aug lists)
    anns = [d.ann_file for d in cfg.train_dataloader.dataset.datasets]
    assert anns == ['ImageSets/Segmentation/train.txt', 'ImageSets/Segmentation/aug.txt']


@pytest.mark.parametrize('config', sorted(SCHEDULES))
def test_notes_schedule_changes_only_the_schedule(config):
    """The dense pretext notes' schedules: model and data of the config they name, and the lr
    from the start to the floor over the iterations given."""
    from mmengine.registry import PARAM_SCHEDULERS
    base, kind, lr, floor, iters = SCHEDULES[config]
    cfg = _cfg(config)
    ours, theirs = _unscoped(cfg.to_dict()), _unscoped(_cfg(base).to_dict())
    if config == RANDOM_INIT:
        assert ours['model']['backbone'].pop('init_cfg') is None
        theirs['model']['backbone'].pop('init_cfg')
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg', 'default_hooks'):
        assert ours[key] != theirs[key] or key == 'optim_wrapper' and config == RANDOM_INIT \
            or key != 'param_scheduler'
        ours.pop(key), theirs.pop(key)
    assert ours == theirs
    assert cfg.optim_wrapper.optimizer.lr == lr and cfg.train_cfg.max_iters == iters
    [sched] = cfg.param_scheduler
    assert sched.type == kind and (sched.begin, sched.end, sched.get('T_max', iters)) == \
        (0, iters, iters)
    # the lr curve, on the same scheduler shrunk to 100 steps (stepping 30k-160k costs seconds)
    steps = 100
    small = dict(sched, end=steps, **({'T_max': steps} if 'T_max' in sched else {}))
    optim = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    scheduler = PARAM_SCHEDULERS.build(dict(small, optimizer=optim))
    seen = {}
    for it in range(steps):
        seen[it / steps] = optim.param_groups[0]['lr']
        optim.step()
        scheduler.step()
    t = 0.7
    mid = {_COS: floor + (lr - floor) * (1 + math.cos(math.pi * t)) / 2,
           _LIN: lr + (floor - lr) * t, _POLY: floor + (lr - floor) * (1 - t) ** 0.9}[kind]
    assert seen[0] == pytest.approx(lr)
    # within the rounding of 100 steps (mmengine ends LinearLR one step early, its cosine and poly
    # are recursive): the floor is the end, not a tenth or ten times it
    assert seen[t] == pytest.approx(mid, rel=0.05)
    assert optim.param_groups[0]['lr'] == pytest.approx(floor, rel=0.05)  # after the last step


# --------------------------------------------------------------------------- build, load, run
def _point_at(cfg, checkpoint):
    cfg.model.backbone.init_cfg.checkpoint = checkpoint
    if cfg.model.get('neck') is not None:
        cfg.model.neck.init_cfg.checkpoint = checkpoint


def _camvid_list(path, split, n):
    with open(osp.join(CAMVID, f'{split}.txt')) as f:
        names = [line.strip() for line in f if line.strip()][:n]
    with open(path, 'w') as f:
        f.write('\n'.join(names) + '\n')
    return str(path)


def _camvid_run(cfg, tmp_path, crop=64, side=96):
    """The config's own model, train pipeline, optimizer and schedule; CamVid data (2 train and 2
    val images), small crops, 2 iterations and a validation at the end."""
    pipeline = copy.deepcopy(_find(cfg.train_dataloader.to_dict(), 'pipeline'))
    for t in pipeline:
        if t['type'] == 'RandomResize':
            t['scale'] = (4 * side, side)
        elif t['type'] == 'RandomCrop':
            t['crop_size'] = (crop, crop)
        elif t['type'] == 'Pad':
            t['size'] = (crop, crop)
    cfg.model.data_preprocessor.size = (crop, crop)
    for head in (cfg.model.decode_head, cfg.model.get('auxiliary_head')):
        if head:
            head.num_classes = len(CAMVID_CLASSES)
    if cfg.model.test_cfg.mode == 'slide':  # Cityscapes: keep sliding windows, at small size
        cfg.model.test_cfg.update(crop_size=(crop, crop), stride=(crop * 2 // 3, crop * 2 // 3))
    dataset = dict(type='BaseSegDataset', data_root=CAMVID, img_suffix='.png',
                   seg_map_suffix='.png', metainfo=dict(classes=CAMVID_CLASSES))
    cfg.train_dataloader = dict(
        batch_size=2, num_workers=0, persistent_workers=False,
        sampler=dict(type='InfiniteSampler', shuffle=False),
        dataset=dict(dataset, ann_file=_camvid_list(tmp_path / 'train.txt', 'train', 2),
                     data_prefix=dict(img_path='train', seg_map_path='trainannot'),
                     pipeline=pipeline))
    cfg.val_dataloader = dict(
        batch_size=1, num_workers=0, persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(dataset, ann_file=_camvid_list(tmp_path / 'val.txt', 'val', 2),
                     data_prefix=dict(img_path='val', seg_map_path='valannot'),
                     pipeline=[dict(type='LoadImageFromFile'),
                               dict(type='Resize', scale=(4 * side, side), keep_ratio=True),
                               dict(type='LoadAnnotations'), dict(type='PackSegInputs')]))
    cfg.val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
    cfg.val_cfg = dict(type='ValLoop')
    set_ignore_index(cfg, CAMVID_VOID)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2)
    cfg.default_hooks.checkpoint = None


def _runner(config, checkpoint, tmp_path, train=False):
    cfg = _cfg(config)
    _point_at(cfg, checkpoint)
    if train:
        _camvid_run(cfg, tmp_path)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = f'seg-{config}'
    cfg.visualizer.name = f'seg-{config}-visualizer'  # one named instance per run
    cfg.log_level = 'WARNING'
    cfg.launcher = 'none'
    cfg.randomness = dict(seed=0)
    return Runner.from_cfg(cfg)


#: the configs that train on CamVid: every one of them (2 iterations at a 64 px crop cost about
#: as much as a build and load).  They are mmseg's EncoderDecoder with a ResNet-50, the mmseg
#: segmentation pipeline and IoUMetric, and differ in the decode head (FCN D8 with its auxiliary
#: head, MoCo's dilation-6 FCN at stride 16, PSPNet, DeepLabV3+, Non-local, Semantic FPN), in the
#: scales and in the test mode (Cityscapes slides).
TRAINED = [c for c in SEG_CONFIGS if c not in SCHEDULES]  # a schedule changes neither


class SnapshotAfterInit(Hook):
    """Weights right after ``init_weights`` (``before_train``), losses, validation metrics."""

    priority = 'VERY_HIGH'

    def before_train(self, runner):
        self.loaded = {k: v.detach().clone() for k, v in runner.model.state_dict().items()}

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.losses = {k: float(v.detach()) for k, v in outputs.items()}

    def after_val_epoch(self, runner, metrics=None):
        self.metrics = dict(metrics)


def _check_loaded(loaded, conv):
    """Every SoCo backbone (and FPN) tensor is in the segmentor, unchanged; nothing is missing."""
    soco = soco_state_dict('fpn')
    neck = ('neck.lateral_convs.', 'neck.fpn_convs.')
    expected = [k for k in soco if k.startswith('backbone.')
                or (conv.with_neck and k.startswith(neck))]
    assert len(expected) == len(conv.state_dict) == (366 if conv.with_neck else 318)
    for key in expected:  # SoCo names are kept: backbone.* -> backbone.*, neck.* -> neck.*
        assert torch.equal(loaded[key], soco[key]), key
    scopes = ('backbone.', ) + (neck if conv.with_neck else ())
    assert sorted(k for k in loaded if k.startswith(scopes)) == sorted(expected)
    check_against_segmentor(conv, loaded)


@pytest.mark.parametrize('config', [c for c in SEG_CONFIGS if c not in SCHEDULES])
def test_config_builds_and_loads_soco(config, converted, tmp_path):
    if config in TRAINED and osp.isdir(CAMVID):
        pytest.skip('loaded and trained by test_config_trains_on_camvid')
    conv, ckpt = converted[_has_neck(config)]
    runner = _runner(config, ckpt, tmp_path)
    model = runner.model
    assert not any(isinstance(m, torch.nn.SyncBatchNorm) for m in model.modules())
    model.init_weights()
    _check_loaded(model.state_dict(), conv)
    # the decoder runs: per-pixel class scores at its output stride (Semantic FPN and
    # DeepLabV3+'s C2 decoder: 4, MoCo's FCN: 16, the other D8 heads: 8)
    stride = 4 if conv.with_neck or config.startswith('deeplabv3plus') else \
        16 if config == MOCO else 8
    classes = 19 if 'cityscapes' in config else 21
    model.eval()
    with torch.no_grad():
        logits = model(torch.zeros(1, 3, 64, 96), mode='tensor')
    assert logits.shape == (1, classes, 64 // stride, 96 // stride)


@pytest.mark.skipif(not osp.isdir(CAMVID), reason=f'CamVid not at {CAMVID}')
@pytest.mark.parametrize('config', TRAINED)
def test_config_trains_on_camvid(config, converted, tmp_path):
    conv, ckpt = converted[_has_neck(config)]
    runner = _runner(config, ckpt, tmp_path, train=True)
    snap = SnapshotAfterInit()
    runner.register_hook(snap)
    runner.train()
    _check_loaded(snap.loaded, conv)
    assert any(k.startswith('decode') and 'loss' in k for k in snap.losses)
    assert all(math.isfinite(v) for v in snap.losses.values()), snap.losses
    after = runner.model.state_dict()
    assert not torch.equal(after['backbone.conv1.weight'], snap.loaded['backbone.conv1.weight'])
    metrics = snap.metrics
    assert set(metrics) >= {'mIoU', 'mAcc', 'aAcc'}
    assert all(math.isfinite(metrics[k]) and 0 <= metrics[k] <= 100 for k in metrics)
