"""Every transfer config: the SoCo release's fine-tuning protocol, and one real iteration on CPU.

For each config in ``configs/transfer``:

* the config states the release's protocol (docs/transfer.md, point by point);
* its train pipeline, run on real photos, draws exactly the release's shorter sides;
* the real mmengine Runner (``load_from`` = the converted checkpoint) trains one iteration on 2
  photos from ``skimage.data`` with hand-placed boxes and polygon masks, at 224 px.  A hook sees
  the weights right after ``load_from``: every converted tensor must exist in the detector, every
  backbone / neck / shared-head tensor must come from SoCo (only the FPN P6/P7 convs of RetinaNet
  and FCOS and the extra norm after res5 of the C4 configs are fresh, by design) and equal the
  SoCo weight; the step must give finite losses; then Precise BN must run after that last
  iteration and leave in every BN layer the statistics of the training batch it saw.

The LVIS config's repeat-factor sampling is checked on a dataset where one category is rarer
than the threshold.
"""
import copy
import json
import math
import os.path as osp
import random

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from torch.nn.modules.batchnorm import _BatchNorm

from mmsoco.converters import check_against_detector, convert_state_dict, save_mmdet_checkpoint
from mmsoco.engine.hooks import DetPreciseBNHook
from mmsoco.models.roi_heads import ResLayerExtraNorm
from transfer_utils import (TRANSFER_CONFIGS, TRANSFER_DIR, _find, dataset_classes,
                            expected_transfer, soco_state_dict, tiny_train_cfg, transfer_layout,
                            transfer_scopes, write_tiny_coco)

COCO_SCALES = [640, 672, 704, 736, 768, 800]
VOC_SCALES = list(range(480, 801, 32))
EXTRA_NORM = 'roi_head.shared_head.norm.'


def _state(variant):
    return soco_state_dict(variant)  # cached in transfer_utils


def _cfg(config):
    return Config.fromfile(osp.join(TRANSFER_DIR, config))


def _protocol(config):
    """What the release (docs/transfer.md) sets for a config: schedule, warm-up, scales."""
    if 'voc0712' in config:
        steps = [12000, 16000] if '18k' in config else [18000, 22000]
        return dict(max_iters=18000 if '18k' in config else 24000, steps=steps, warmup=100,
                    scales=VOC_SCALES)
    factor = 4 if '_4x_' in config else 2 if '_2x_' in config else 1
    return dict(max_iters=90000 * factor, steps=[60000 * factor, 80000 * factor], warmup=1000,
                scales=COCO_SCALES)


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    """Converted checkpoints, one per (variant, det), written once for all configs."""
    root = tmp_path_factory.mktemp('converted')
    cache = {}

    def get(variant, det):
        if (variant, det) not in cache:
            conv = convert_state_dict(_state(variant), det=det)
            path = str(root / f'soco_{variant}_{det}.pth')
            save_mmdet_checkpoint(conv, path)
            cache[variant, det] = conv, path
        return cache[variant, det]

    return get


@pytest.fixture(autouse=True)
def keep_default_scope():
    """Drop the 'mmdet' DefaultScope each Runner creates, so later tests keep their scope."""
    before = set(DefaultScope._instance_dict)
    yield
    for name in set(DefaultScope._instance_dict) - before:  # as overwrite_default_scope does
        DefaultScope._instance_dict.pop(name)


# --------------------------------------------------------------------------- the protocol
@pytest.mark.parametrize('config', TRANSFER_CONFIGS)
def test_config_states_the_release_protocol(config):
    cfg = _cfg(config)
    want = _protocol(config)
    model = cfg.model
    # schedule: iterations, steps, Detectron2's linear warm-up, evaluation at the end
    assert cfg.train_cfg.type == 'IterBasedTrainLoop'
    assert cfg.train_cfg.max_iters == want['max_iters']
    assert cfg.train_cfg.val_interval == want['max_iters']
    warmup, steps = cfg.param_scheduler
    assert (warmup.type, warmup.start_factor, warmup.by_epoch, warmup.begin, warmup.end) == \
        ('LinearLR', 0.001, False, 0, want['warmup'])
    assert (steps.type, steps.by_epoch, steps.milestones, steps.end, steps.gamma) == \
        ('MultiStepLR', False, want['steps'], want['max_iters'], 0.1)
    assert cfg.train_dataloader.batch_size == 2  # x 8 GPUs = 16 images per iteration
    assert cfg.train_dataloader.sampler.type == 'InfiniteSampler'
    # Precise BN before each evaluation
    assert [h.type for h in cfg.custom_hooks] == ['mmselfsup.DetPreciseBNHook']
    assert cfg.custom_hooks[0].num_samples == 3200
    assert 'mmsoco' in cfg.custom_imports.imports
    # every stage fine-tuned with SyncBN, pytorch-style ResNet on RGB with the ImageNet mean/std
    assert model.backbone.frozen_stages == -1 and model.backbone.norm_eval is False
    assert model.backbone.norm_cfg.type == 'SyncBN' and model.backbone.style == 'pytorch'
    pre = model.data_preprocessor
    assert pre.bgr_to_rgb and pre.mean == [123.675, 116.28, 103.53]
    assert pre.std == [58.395, 57.12, 57.375]
    if 'neck' in model:
        assert model.neck.norm_cfg.type == 'SyncBN'
    # test scale 800 (shorter side, long side capped at 1333)
    test_resize = [t for t in cfg.val_dataloader.dataset.pipeline if t.type == 'Resize']
    assert [tuple(t.scale) for t in test_resize] == [(1333, 800)]

    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.momentum) == ('SGD', 0.9)
    if config.startswith(('retinanet', 'fcos')):  # no release config: the detector's own lr
        assert optimizer.lr == 0.01
        return
    assert (optimizer.lr, optimizer.weight_decay) == (0.02, 2.5e-5)
    assert cfg.optim_wrapper.paramwise_cfg == dict(norm_decay_mult=0.0, bias_decay_mult=4.0)
    roi = model.roi_head
    if '_r50-c4_' in config:
        assert roi.shared_head.type == 'mmselfsup.ResLayerExtraNorm'
        assert roi.shared_head.norm_cfg.type == 'SyncBN' and roi.shared_head.style == 'pytorch'
        assert (model.test_cfg.rpn.nms_pre, model.test_cfg.rpn.max_per_img) == (6000, 1000)
    else:
        assert roi.bbox_head.type == 'Shared4Conv1FCBBoxHead'
        assert roi.bbox_head.norm_cfg.type == 'SyncBN'
        assert roi.mask_head.norm_cfg.type == 'SyncBN'
    if 'voc0712' in config:  # Detectron2's VOC AP: 11-point VOC07 AP averaged over IoU .5:.95
        assert cfg.val_evaluator.eval_mode == '11points'
        assert cfg.val_evaluator.iou_thrs == [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]
    if 'lvis' in config:
        assert roi.bbox_head.num_classes == roi.mask_head.num_classes == 1203
        assert (model.test_cfg.rcnn.max_per_img, model.test_cfg.rcnn.score_thr) == (300, 1e-4)
        dataset = cfg.train_dataloader.dataset
        assert (dataset.type, dataset.oversample_thr) == ('ClassBalancedDataset', 1e-3)


_DRAWN = {}  # train pipeline (repr) -> shorter sides it drew; configs that share one run it once


@pytest.mark.parametrize('config', TRANSFER_CONFIGS)
def test_train_pipeline_draws_the_release_scales(config, tmp_path):
    """Run the config's own train pipeline on real photos: the shorter sides are the release's."""
    from mmdet.datasets import CocoDataset
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)

    cfg = _cfg(config)
    pipeline = copy.deepcopy(_find(cfg.train_dataloader.to_dict(), 'pipeline'))
    if repr(pipeline) not in _DRAWN:
        classes = dataset_classes(cfg)
        ann_file, _ = write_tiny_coco(str(tmp_path), classes, photos=('astronaut', 'chelsea'),
                                      max_side=400)
        with DefaultScope.overwrite_default_scope('mmdet'):
            dataset = CocoDataset(data_root=str(tmp_path), ann_file=ann_file,
                                  data_prefix=dict(img='images/'),
                                  metainfo=dict(classes=classes), pipeline=pipeline)
            random.seed(0)
            np.random.seed(0)
            _DRAWN[repr(pipeline)] = {min(dataset[i % 2]['inputs'].shape[1:])  # (3, H, W)
                                      for i in range(20)}
    sides = _DRAWN[repr(pipeline)]
    want = set(_protocol(config)['scales'])
    assert sides <= want, f'shorter sides {sorted(sides - want)} are not the release scales'
    assert len(sides) >= len(want) // 2, f'only {sorted(sides)} drawn in 20 samples'


def _rfs_annotations(path, num_images=2000):
    """COCO-format records: 'common' in every image, 'rare' in image 1 only (f = 1 / 2000)."""
    images = [dict(id=i, file_name=f'{i}.jpg', width=640, height=480)
              for i in range(1, num_images + 1)]
    anns = [dict(id=i, image_id=i, category_id=1, bbox=[10, 10, 100, 100], area=1e4, iscrowd=0)
            for i in range(1, num_images + 1)]
    anns.append(dict(id=num_images + 1, image_id=1, category_id=2, bbox=[200, 200, 80, 80],
                     area=6400, iscrowd=0))
    with open(path, 'w') as f:
        json.dump(dict(images=images, annotations=anns,
                       categories=[dict(id=1, name='common'), dict(id=2, name='rare')]), f)


def test_lvis_repeat_factor_sampling_is_in_effect(tmp_path):
    """The LVIS config's training set repeats images with categories rarer than 0.001."""
    from mmdet.registry import DATASETS
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)

    cfg = _cfg('mask-rcnn_r50_fpn_sample1e-3_soco-100e_ms-1x_lvis-v1.py')
    _rfs_annotations(str(tmp_path / 'ann.json'))
    dataset_cfg = cfg.train_dataloader.dataset.to_dict()
    # the wrapper as configured; the LVIS records replaced by COCO-format ones (no `lvis` here)
    dataset_cfg['dataset'] = dict(type='CocoDataset', data_root=str(tmp_path),
                                  ann_file='ann.json', data_prefix=dict(img=''),
                                  metainfo=dict(classes=('common', 'rare')),
                                  filter_cfg=dataset_cfg['dataset']['filter_cfg'], pipeline=[])
    with DefaultScope.overwrite_default_scope('mmdet'):
        dataset = DATASETS.build(dataset_cfg)
    # r = max(1, sqrt(0.001 / f)): rare f = 1/2000 -> r = sqrt(2) -> 2 copies; common: 1 copy
    assert math.ceil(math.sqrt(1e-3 / (1 / 2000))) == 2
    assert len(dataset) == 2001
    ids = [dataset.dataset.get_data_info(i)['img_id'] for i in dataset.repeat_indices]
    assert ids.count(1) == 2 and all(ids.count(i) == 1 for i in (2, 1000, 2000))


def test_short_forms_are_one_override_away():
    """The mmselfsup/mmdet short forms: single-scale training, mmdet's VOC 18k."""
    cfg = _cfg('mask-rcnn_r50_fpn_soco-100e_1x_coco.py')
    cfg.merge_from_dict({'train_dataloader.dataset.pipeline.2.scales': [(1333, 800)]})
    resize = cfg.train_dataloader.dataset.pipeline[2]
    assert resize.type == 'RandomChoiceResize' and resize.scales == [(1333, 800)]
    short = _cfg('faster-rcnn_r50-c4_soco-100e_ms-18k_voc0712.py')
    full = _cfg('faster-rcnn_r50-c4_soco-100e_ms-24k_voc0712.py')
    assert short.train_cfg.max_iters == 18000
    assert short.param_scheduler[1].milestones == [12000, 16000]
    assert short.model == full.model and short.custom_hooks == full.custom_hooks


def test_mmcls_precise_bn_does_not_take_an_mmdet_loader(tmp_path):
    """Why DetPreciseBNHook exists: mmcls's function reads ``loader.batch_size``, which is None
    when a batch sampler makes the batches (every mmdet config: AspectRatioBatchSampler)."""
    from mmcls.engine.hooks.precise_bn_hook import update_bn_stats
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)

    ann_file, classes = write_tiny_coco(str(tmp_path), ('person', 'cat'))
    with DefaultScope.overwrite_default_scope('mmdet'):
        loader = Runner.build_dataloader(dict(
            batch_size=2, num_workers=0, sampler=dict(type='InfiniteSampler', shuffle=False),
            batch_sampler=dict(type='AspectRatioBatchSampler'),
            dataset=dict(type='CocoDataset', data_root=str(tmp_path), ann_file=ann_file,
                         data_prefix=dict(img='images/'), metainfo=dict(classes=classes),
                         pipeline=[dict(type='LoadImageFromFile'),
                                   dict(type='PackDetInputs')])))
    assert loader.batch_size is None and loader.batch_sampler.batch_size == 2
    with pytest.raises(TypeError, match="'NoneType' and 'int'"):
        update_bn_stats(torch.nn.BatchNorm2d(3).train(), loader, num_samples=8)


# --------------------------------------------------------------------------- one real iteration
class SnapshotAfterLoad(Hook):
    """Keep the weights as loaded (``before_train`` runs after ``load_from``) and the losses."""

    priority = 'VERY_HIGH'

    def before_train(self, runner):
        self.loaded = {k: v.detach().clone() for k, v in runner.model.state_dict().items()}

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.outputs = {k: float(v.detach()) if torch.is_tensor(v) else float(v)
                        for k, v in outputs.items()}


class RecordBNInputs(Hook):
    """Around Precise BN (priority ABOVE_NORMAL): record what each BN layer sees meanwhile.

    Registered twice: as 'HIGH' (before Precise BN) it snapshots the running statistics and
    installs forward pre-hooks that keep each BN input's per-channel mean and unbiased variance;
    as 'NORMAL' (after) it removes them and snapshots the statistics again.
    """

    def __init__(self, record, priority):
        self.record = record
        self.priority = priority

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        record = self.record
        bns = {n: m for n, m in runner.model.named_modules()
               if isinstance(m, _BatchNorm) and m.training}
        if self.priority == 'HIGH':
            record['before'] = {n: (m.running_mean.clone(), m.running_var.clone())
                                for n, m in bns.items()}
            record['seen'] = {n: [] for n in bns}

            def keep(name):
                def hook(module, args):
                    x = args[0].detach().transpose(0, 1).flatten(1)  # (C, N*H*W)
                    record['seen'][name].append((x.mean(1), x.var(1, unbiased=True)))
                return hook

            record['handles'] = [m.register_forward_pre_hook(keep(n)) for n, m in bns.items()]
        else:
            for handle in record.pop('handles'):
                handle.remove()
            record['after'] = {n: (m.running_mean.clone(), m.running_var.clone())
                               for n, m in bns.items()}


class PreciseBNRunsAtValidation(Hook):
    """How many times Precise BN had run when each validation started."""

    def __init__(self):
        self.runs = []

    def before_val(self, runner):
        self.runs += [h.runs for h in runner.hooks if isinstance(h, DetPreciseBNHook)]


def _validate_every_iteration(cfg, config, data_root):
    """Two iterations with a validation after each, on the tiny set (COCO bbox metric)."""
    ann_file = osp.join(data_root, 'annotations.json')
    pipeline = copy.deepcopy(_cfg(config).val_dataloader.dataset.pipeline)
    for t in pipeline:
        if t['type'] == 'Resize':
            t['scale'] = (224, 224)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=1)
    cfg.val_dataloader = dict(
        batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(type='CocoDataset', data_root=data_root, ann_file=ann_file,
                     data_prefix=dict(img='images/'),
                     metainfo=cfg.train_dataloader.dataset.metainfo, test_mode=True,
                     pipeline=pipeline))
    cfg.val_cfg = dict(type='ValLoop')
    cfg.val_evaluator = dict(type='CocoMetric', ann_file=ann_file, metric='bbox')


@pytest.mark.parametrize('config', TRANSFER_CONFIGS)
def test_transfer_config_loads_soco_and_trains(config, converted, tmp_path):
    variant, det = transfer_layout(config)
    conv, ckpt = converted(variant, det)
    soco = _state(variant)

    cfg = tiny_train_cfg(config, ckpt, str(tmp_path / 'data'), str(tmp_path / 'work'),
                         name=f'transfer-{config}')
    cfg.train_dataloader.batch_sampler = dict(type='AspectRatioBatchSampler')  # as mmdet's
    validate = config.startswith('retinanet')  # one config also checks Precise BN before val
    if validate:
        _validate_every_iteration(cfg, config, str(tmp_path / 'data'))
    runner = Runner.from_cfg(cfg)
    before_val = PreciseBNRunsAtValidation()
    runner.register_hook(before_val)
    snapshot = SnapshotAfterLoad()
    runner.register_hook(snapshot)
    record = {}
    runner.register_hook(RecordBNInputs(record, 'HIGH'))
    runner.register_hook(RecordBNInputs(record, 'NORMAL'))
    runner.train()

    loaded = snapshot.loaded
    unexpected = [k for k in conv.state_dict if k not in loaded]
    assert not unexpected, f'converted keys the detector does not have: {unexpected[:5]}'
    scopes, fresh = transfer_scopes(variant, det)
    if variant == 'c4':
        fresh = tuple(fresh) + (EXTRA_NORM, )  # Res5ROIHeadsExtraNorm's norm: not pretrained
    missing = [k for k in loaded if k.startswith(scopes) and k not in conv.state_dict
               and not (fresh and k.startswith(fresh))]
    assert not missing, f'pretrained layers left at their fresh init: {missing[:5]}'
    if fresh:  # P6/P7, the extra norm: in the detector, and not SoCo's
        assert all(any(k.startswith(f) for k in loaded) for f in fresh)
        assert not any(k.startswith(fresh) for k in conv.state_dict)

    pairs = expected_transfer({k: v for k, v in soco.items() if not k.startswith('target_net.')},
                              variant, det)
    assert len(pairs) == len(conv.state_dict)
    for src, dst in pairs:
        assert torch.equal(loaded[dst], soco[src]), f'{dst} != SoCo {src}'
    check_against_detector(conv, runner.model)

    losses = snapshot.outputs
    assert any(k.startswith('loss') for k in losses)
    assert all(torch.isfinite(torch.tensor(v)) for v in losses.values()), losses
    after = runner.model.state_dict()
    assert not torch.equal(after['backbone.conv1.weight'], loaded['backbone.conv1.weight'])

    # Precise BN ran once, after the last iteration, on one batch (2 images = the whole set) ...
    precise = [h for h in runner.hooks if isinstance(h, DetPreciseBNHook)]
    assert len(precise) == 1 and precise[0].runs == (2 if validate else 1)
    if validate:  # 2 iterations, validation after each: Precise BN ran before each of them
        assert before_val.runs == [1, 2]
    # ... and every BN layer now holds the statistics of the batch it saw then
    assert record['seen'] and all(len(v) == 1 for v in record['seen'].values()), \
        {n: len(v) for n, v in record['seen'].items() if len(v) != 1}
    for name, [(mean, var)] in record['seen'].items():
        run_mean, run_var = record['after'][name]
        torch.testing.assert_close(run_mean, mean, rtol=1e-4, atol=1e-5, msg=name)
        torch.testing.assert_close(run_var, var, rtol=1e-4, atol=1e-5, msg=name)
    changed = [n for n, (m, _) in record['before'].items()
               if not torch.allclose(m, record['after'][n][0], rtol=1e-3, atol=1e-5)]
    assert len(changed) == len(record['before']), 'Precise BN left some statistics as they were'

    if variant == 'c4':
        _check_extra_norm(runner.model, loaded)
        assert EXTRA_NORM in conv.summary()  # the converter names it among the fresh layers


def _check_extra_norm(model, loaded):
    """res5 is followed by a fresh extra norm, and its output is what the box/mask heads read."""
    head = model.roi_head.shared_head
    assert isinstance(head, ResLayerExtraNorm)
    assert isinstance(head.norm, _BatchNorm) and head.norm.num_features == 2048
    assert torch.equal(loaded[EXTRA_NORM + 'weight'], torch.ones(2048))
    assert torch.equal(loaded[EXTRA_NORM + 'bias'], torch.zeros(2048))
    assert torch.equal(loaded[EXTRA_NORM + 'running_mean'], torch.zeros(2048))
    assert torch.equal(loaded[EXTRA_NORM + 'running_var'], torch.ones(2048))
    head.eval()
    x = torch.randn(3, 1024, 14, 14)
    with torch.no_grad():
        out = head(x)
        torch.testing.assert_close(out, head.norm(head.layer4(x)))
    assert out.shape == (3, 2048, 7, 7)
    assert not torch.allclose(out, head.layer4(x).detach(), atol=1e-3)
