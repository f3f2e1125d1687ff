"""An mmengine Runner checkpoint saves and resumes on torch's weights-only loading, exactly.

A run interrupted after epoch 2 of 4 and resumed from its checkpoint must end where the same run
without interruption ends: same iterations and learning rates, same data order, same weights,
BN statistics, LARS momentum buffers and target-network (EMA) step counter.
"""
import math
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner

import mmsoco  # noqa: F401
from mmsoco.models.utils.target_network import CosineMomentumEMA
from mmsoco.registry import DATASETS, HOOKS, MODELS
from mmsoco.testing import REPO

LR, EPOCHS, ITERS_PER_EPOCH = 0.1, 4, 4


class _Interrupted(Exception):
    """What the interrupting hook raises: the run dies as a killed job would."""


@HOOKS.register_module(force=True)
class _RecordSteps(Hook):
    """Records, for every trained iteration, what a resumed run must reproduce.

    ``records`` (a class attribute, shared by every instance) gets ``(iter, epoch, lr, data,
    ema_steps)``: the iteration and epoch, the learning rate that step uses, the sum of the batch
    (the data order) and the target network's step counter after the step.  With ``stop_after``
    set, the run is interrupted once the checkpoint of that epoch is written (the hook has the
    lowest priority, so it runs after ``CheckpointHook``).
    """
    priority = 'LOWEST'
    records = []

    def __init__(self, stop_after=None):
        self.stop_after = stop_after

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self._pending = (runner.iter, runner.epoch, runner.optim_wrapper.get_lr()['lr'][0],
                         float(torch.stack(data_batch['inputs']).sum()))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        _RecordSteps.records.append(self._pending + (int(runner.model.target.steps), ))

    def after_train_epoch(self, runner):
        if runner.epoch + 1 == self.stop_after:
            raise _Interrupted


@MODELS.register_module(force=True)
class _ToyRegressor(BaseModel):
    """A linear regressor with BN and a momentum target network, updated as SoCo updates its own.

    The state a resume must restore: weights, BN running statistics, the target copy and its
    ``steps`` buffer (which drives the cosine momentum schedule).
    """

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 1)
        self.bn = nn.BatchNorm1d(4)
        self.target = CosineMomentumEMA(self._online())

    def _online(self):
        return nn.ModuleDict(dict(fc=self.fc, bn=self.bn))

    def forward(self, inputs, data_samples=None, mode='loss'):
        x = torch.stack(inputs)
        self.target.update_parameters(self._online())
        return dict(loss=((self.fc(self.bn(x)) - x.sum(1, keepdim=True)) ** 2).mean())


@DATASETS.register_module(force=True)
class _ToyData(torch.utils.data.Dataset):

    def __len__(self):
        return 4 * ITERS_PER_EPOCH

    def __getitem__(self, i):
        return dict(inputs=torch.full((4, ), float(i) / 16))


def _cfg(work_dir, name, stop_after=None, resume=False):
    return dict(
        model=dict(type='_ToyRegressor'),
        work_dir=work_dir,
        experiment_name=name,  # one logger / message hub per run, even within the same second
        train_dataloader=dict(dataset=dict(type='_ToyData'), batch_size=4, num_workers=0,
                              sampler=dict(type='DefaultSampler', shuffle=True)),
        optim_wrapper=dict(optimizer=dict(type='LARS', lr=LR, momentum=0.9,
                                          weight_decay=1e-5)),
        param_scheduler=[dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
                              convert_to_iter_based=True),
                         dict(type='CosineAnnealingLR', T_max=3, by_epoch=True, begin=1, end=4,
                              convert_to_iter_based=True)],
        train_cfg=dict(by_epoch=True, max_epochs=EPOCHS),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1),
                           logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[dict(type='_RecordSteps', stop_after=stop_after)],
        default_scope='mmselfsup',
        log_level='WARNING',
        randomness=dict(seed=0),
        resume=resume)


def _train(cfg):
    _RecordSteps.records = []
    runner = Runner.from_cfg(cfg)
    try:
        runner.train()                   # dies without the registry repair
    except _Interrupted:
        pass
    return runner, _RecordSteps.records


def _assert_same_tensors(a, b, what):
    assert list(a) == list(b), what
    for key in a:
        assert torch.equal(a[key], b[key]), f'{what}: {key}'


def test_interrupted_run_resumes_exactly_where_it_stopped(tmp_path):
    full, full_records = _train(_cfg(str(tmp_path / 'full'), 'full'))
    total = EPOCHS * ITERS_PER_EPOCH
    assert [r[0] for r in full_records] == list(range(total))

    work_dir = str(tmp_path / 'interrupted')
    cut, first_half = _train(_cfg(work_dir, 'cut', stop_after=2))
    assert first_half == full_records[:8]
    ckpt = osp.join(work_dir, 'epoch_2.pth')
    assert osp.exists(ckpt) and not osp.exists(osp.join(work_dir, 'epoch_3.pth'))
    # weights-only loading, as torch.load does by default, must accept mmengine's checkpoint
    state = torch.load(ckpt, map_location='cpu', weights_only=True)
    assert {'meta', 'state_dict', 'message_hub', 'optimizer', 'param_schedulers'} <= set(state)
    assert state['meta']['epoch'] == 2 and state['meta']['iter'] == 8
    assert int(state['state_dict']['target.steps']) == 8

    resumed, second_half = _train(_cfg(work_dir, 'resumed', resume=True))
    # continued at iteration 8 (epoch index 2), not from scratch, with the same data order,
    # learning rate and EMA step counter at every step as the uninterrupted run
    assert second_half == full_records[8:]
    assert resumed.train_loop.epoch == EPOCHS and resumed.train_loop.iter == total
    assert resumed.message_hub.get_info('max_iters') == total
    # the lr of the first resumed step is the schedule's value for iteration 8: cosine over
    # iterations 4..16 after the one-epoch linear warm-up, 4/12 of the way
    lr8 = second_half[0][2]
    assert lr8 == pytest.approx(LR * (1 + math.cos(math.pi * 4 / 12)) / 2, rel=1e-6)
    assert lr8 != pytest.approx(full_records[0][2])

    # the same end state, bit for bit
    _assert_same_tensors(resumed.model.state_dict(), full.model.state_dict(), 'model')
    assert int(resumed.model.target.steps) == total
    opt_resumed = resumed.optim_wrapper.optimizer.state_dict()
    opt_full = full.optim_wrapper.optimizer.state_dict()
    assert opt_resumed['param_groups'] == opt_full['param_groups']
    assert set(opt_resumed['state']) == set(opt_full['state']) and opt_full['state']
    for idx, param_state in opt_full['state'].items():
        _assert_same_tensors(opt_resumed['state'][idx], param_state, f'optimizer state {idx}')
    # and not trivially: training moved the weights and the momentum buffers are non-zero
    assert not torch.equal(cut.model.fc.weight, full.model.fc.weight)
    assert all(s['momentum_buffer'].abs().sum() > 0 for s in opt_full['state'].values())


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


def test_train_py_resume_path_continues_the_schedule(tmp_path, run_tool):
    """``tools/train.py --resume PATH`` (a checkpoint of another work dir) must resume: the
    iteration, the lr schedule and the target's step counter go on from the checkpoint.  Passing
    PATH as ``load_from`` alone would load the weights and start the schedule at iteration 0."""
    from mmengine.config import Config

    cut_dir = str(tmp_path / 'cut')
    _train(_cfg(cut_dir, 'cut-for-path', stop_after=2))
    config = str(tmp_path / 'toy.py')
    Config(_cfg(str(tmp_path / 'unused'), 'from-path')).dump(config)
    _RecordSteps.records = []
    run_tool(osp.join(REPO, 'tools', 'train.py'), config, '--work-dir', str(tmp_path / 'resumed'),
             '--resume', osp.join(cut_dir, 'epoch_2.pth'))
    records = _RecordSteps.records
    assert [r[0] for r in records] == list(range(8, 16))
    assert records[0][2] == pytest.approx(LR * (1 + math.cos(math.pi * 4 / 12)) / 2, rel=1e-6)
    assert [r[4] for r in records] == list(range(9, 17))
    assert osp.exists(tmp_path / 'resumed' / 'epoch_4.pth')
