"""An mmengine Runner checkpoint saves and resumes on torch's weights-only loading."""
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner

import mmsoco  # noqa: F401
from mmsoco.registry import DATASETS, HOOKS, MODELS


@HOOKS.register_module(force=True)
class _RecordIters(Hook):
    """Remembers the iterations it saw trained."""
    seen = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        _RecordIters.seen.append(runner.iter)


@MODELS.register_module(force=True)
class _ToyRegressor(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 1)
        self.bn = nn.BatchNorm1d(4)

    def forward(self, inputs, data_samples=None, mode='loss'):
        x = torch.stack(inputs)
        return dict(loss=((self.fc(self.bn(x)) - x.sum(1, keepdim=True)) ** 2).mean())


@DATASETS.register_module(force=True)
class _ToyData(torch.utils.data.Dataset):

    def __len__(self):
        return 16

    def __getitem__(self, i):
        return dict(inputs=torch.full((4, ), float(i) / 16))


def _cfg(work_dir, max_epochs, resume=False):
    return dict(
        model=dict(type='_ToyRegressor'),
        work_dir=work_dir,
        train_dataloader=dict(dataset=dict(type='_ToyData'), batch_size=4, num_workers=0,
                              sampler=dict(type='DefaultSampler', shuffle=True)),
        optim_wrapper=dict(optimizer=dict(type='LARS', lr=0.1, momentum=0.9,
                                          weight_decay=1e-5)),
        param_scheduler=[dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
                              convert_to_iter_based=True),
                         dict(type='CosineAnnealingLR', T_max=3, by_epoch=True, begin=1, end=4,
                              convert_to_iter_based=True)],
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1),
                           logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[dict(type='_RecordIters')],
        default_scope='mmselfsup',
        randomness=dict(seed=0),
        resume=resume)


def test_runner_trains_under_mmselfsup_scope_and_resumes(tmp_path):
    work_dir = str(tmp_path)
    runner = Runner.from_cfg(_cfg(work_dir, max_epochs=2))
    runner.train()                       # dies without the registry repair
    ckpt = osp.join(work_dir, 'epoch_2.pth')
    assert osp.exists(ckpt)
    # weights-only loading, as torch.load does by default, must accept mmengine's checkpoint
    state = torch.load(ckpt, map_location='cpu', weights_only=True)
    assert {'meta', 'state_dict', 'message_hub', 'optimizer', 'param_schedulers'} <= set(state)
    lr_at_2 = runner.optim_wrapper.get_lr()['lr'][0]

    _RecordIters.seen.clear()
    resumed = Runner.from_cfg(_cfg(work_dir, max_epochs=4, resume=True))
    resumed.train()
    assert resumed.train_loop.epoch == 4
    assert resumed.message_hub.get_info('max_iters') == 16
    assert _RecordIters.seen == list(range(8, 16))   # continued at epoch 3, not from scratch
    assert lr_at_2 != pytest.approx(resumed.optim_wrapper.get_lr()['lr'][0])


def test_allow_list_is_exact_not_weights_only_off():
    from mmsoco.utils import mmengine_checkpoint_globals
    safe = torch.serialization.get_safe_globals()
    for g in mmengine_checkpoint_globals():
        assert g in safe
    # arbitrary objects are still refused
    import fractions
    import io
    buf = io.BytesIO()
    torch.save({'x': fractions.Fraction(1, 3)}, buf)
    buf.seek(0)
    with pytest.raises(Exception, match='[Ww]eights only'):
        torch.load(buf, weights_only=True)
