"""Every dense pretext pretraining config (configs/dense) trains 2 iterations on real photos.

The config's own model, pipeline, optimizer and schedule run through mmengine's Runner (the
continued pretraining configs from the start ``init2soco.py`` writes); the test only shrinks them
with ``--cfg-options``-style keys (ResNet-18, plain BN, 64 px crops, a 64-entry queue, 4 coco128
photos listed as the VOC list is, batch 2).
"""
import math
import os
import os.path as osp

import pytest
import torch
import torchvision
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from mmsoco.converters.init_checkpoint import convert_init_checkpoint
from transfer_utils import REPO

DENSE_DIR = osp.join(REPO, 'configs', 'dense')
# PLR and EDMoCo; the patch-level MoCo configs are trained in tests/test_patch_moco.py
DENSE_CONFIGS = sorted(f for f in os.listdir(DENSE_DIR) if f.startswith(('plr_', 'edmoco_')))
COCO128 = osp.join(osp.dirname(REPO), 'shared', 'datasets', 'coco128', 'images', 'train2017')


def tiny_options(cfg, ann_file):
    """``--cfg-options`` keys that make a dense config a 2-iteration CPU run."""
    options = {
        'model.backbone.backbone.depth': 18,
        'model.backbone.backbone.norm_cfg': dict(type='BN'),
        'model.backbone.decode_head.in_channels': 512,
        'model.backbone.decode_head.norm_cfg': dict(type='BN'),
        'train_dataloader.batch_size': 2,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_dataloader.dataset.type': 'ImageList',
        'train_dataloader.dataset.data_root': COCO128,
        'train_dataloader.dataset.ann_file': ann_file,
        'train_dataloader.dataset.data_prefix': dict(img_path=''),
        'train_cfg.max_epochs': 1,
        'default_hooks.checkpoint': None,
        'load_from': None,
        'log_level': 'WARNING',
    }
    pipeline = cfg.train_dataloader.dataset.pipeline
    for i, t in enumerate(pipeline):
        key = f'train_dataloader.dataset.pipeline.{i}'
        if t.type == 'RandomResizedCrop':
            options[f'{key}.size'] = 64
        elif t.type == 'RandomPatchRotate':
            options[f'{key}.crop_size'] = 64
        elif t.type == 'MultiView':  # MoCo v2's two views
            for j, v in enumerate(t.transforms[0]):
                if v.type == 'RandomResizedCrop':
                    options[f'{key}.transforms.0.{j}.size'] = 64
    if cfg.model.type == 'EDMoCo':
        options.update({'model.queue_len': 64, 'model.neck.norm_cfg': dict(type='BN')}
                       if cfg.model.neck.type == 'NonLinearNeck' else {'model.queue_len': 64})
    return options


class LastLosses(Hook):

    def before_train(self, runner):  # after load_from
        self.first_conv = runner.model.state_dict()['backbone.backbone.conv1.weight'].clone()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.iters = getattr(self, 'iters', 0) + 1
        self.losses = {k: float(v.detach()) for k, v in outputs.items()}


@pytest.mark.skipif(not osp.isdir(COCO128), reason=f'coco128 not at {COCO128}')
@pytest.mark.parametrize('config', DENSE_CONFIGS)
def test_dense_config_trains_two_iterations(config, tmp_path):
    names = sorted(os.listdir(COCO128))[:4]
    ann_file = tmp_path / 'list.txt'
    ann_file.write_text('\n'.join(names) + '\n')   # 'photo.jpg' lines, as trainval0712.txt
    cfg = Config.fromfile(osp.join(DENSE_DIR, config))
    cfg.merge_from_dict(tiny_options(cfg, str(ann_file)), allow_list_keys=True)
    if config.endswith('-init.py'):  # continued pretraining: the start init2soco.py writes
        cfg.load_from = str(tmp_path / 'start.pth')
        torch.save(torchvision.models.resnet18().state_dict(), str(tmp_path / 'r18.pth'))
        convert_init_checkpoint(str(tmp_path / 'r18.pth'), cfg, cfg.load_from)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = f'dense-{config}'
    cfg.visualizer.name = f'dense-{config}-visualizer'
    cfg.launcher = 'none'
    cfg.randomness = dict(seed=0)
    before = set(DefaultScope._instance_dict)
    try:
        runner = Runner.from_cfg(cfg)
        hook = LastLosses()
        runner.register_hook(hook)
        start = runner.model.state_dict()['backbone.decode_head.convs.0.conv.weight'].clone() \
            if 'fcn' in config else None
        runner.train()
        if cfg.load_from:  # the run started from the written start
            loaded = torch.load(cfg.load_from)['state_dict']['backbone.backbone.conv1.weight']
            assert torch.equal(hook.first_conv, loaded)
    finally:
        for name in set(DefaultScope._instance_dict) - before:
            DefaultScope._instance_dict.pop(name)
    assert hook.iters == 2 and 'loss' in hook.losses
    assert all(math.isfinite(v) for v in hook.losses.values()), hook.losses
    # the encoder's lr: 1/100 of the base lr where the notes pretrain so (EDMoCo with PSPNet)
    model = runner.model
    lr_of = {id(p): g['lr'] for g in runner.optim_wrapper.optimizer.param_groups
             for p in g['params']}
    ratio = lr_of[id(model.backbone.backbone.conv1.weight)] / \
        lr_of[id(model.backbone.decode_head.conv_seg.weight if 'plr' in config else
                 model.neck.mlp[0].weight)]
    assert ratio == pytest.approx(0.01 if config.startswith('edmoco_resnet50-d8-psp') else 1)
    if start is not None:  # the decoder is trained
        after = runner.model.state_dict()['backbone.decode_head.convs.0.conv.weight']
        assert not torch.equal(after, start)
