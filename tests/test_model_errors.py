"""What the model refuses and where its schedule stops: the target momentum after the run's end,
a run of unknown length, and views that do not match the boxes or the configured pairs."""
import math

import pytest
import torch
from mmengine.logging import MessageHub

import mmsoco  # noqa: F401
from mmsoco.models.algorithms import SoCo
from mmsoco.models.utils.target_network import CosineMomentumEMA
from mmsoco.testing import make_sample, random_batch


def _online():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))


def test_momentum_stays_at_its_end_value_after_max_iters():
    ema = CosineMomentumEMA(_online(), momentum=0.99, end_momentum=1., max_iters=10)
    # BYOL's schedule, written out: 1 - (1 - 0.99) (cos(pi k / K) + 1) / 2, for k <= K
    assert ema.momentum_at(5) == pytest.approx(1 - 0.01 * (math.cos(math.pi / 2) + 1) / 2)
    assert ema.momentum_at(10) == 1.0
    # past the end (a run resumed with more epochs, or a longer data set) it stays at 1, it
    # does not come back down along the cosine (cos(1.5 pi) + 1 = 1 would give 0.995)
    for k in (11, 15, 20, 1000):
        assert ema.momentum_at(k) == 1.0, k
    online = _online()
    ema.update_parameters(online)                 # the first update copies the online weights
    ema.steps.fill_(15)
    before = [p.clone() for p in ema.module.parameters()]
    with torch.no_grad():
        for p in online.parameters():
            p.add_(1.)
    assert ema.update_parameters(online) == 1.0
    for p, b in zip(ema.module.parameters(), before):
        assert torch.equal(p, b)                 # momentum 1: the target does not move


def test_momentum_without_a_run_length_says_what_is_missing():
    MessageHub.get_instance('mmsoco-test-no-run-length')   # a fresh hub: no max_iters
    ema = CosineMomentumEMA(_online())
    online = _online()
    assert ema.update_parameters(online) == 1.0     # the copy needs no schedule
    with pytest.raises(RuntimeError, match='needs the run length: pass max_iters'):
        ema.update_parameters(online)
    assert CosineMomentumEMA(_online(), max_iters=4).momentum_at(1) < 1.0


def test_boxes_for_another_number_of_views_are_refused():
    inputs, samples = random_batch(n=2, sizes=(32, 32, 16))
    with pytest.raises(ValueError, match='3 views of boxes for 2 image views'):
        SoCo.pack_rois(samples, 2)


def test_view_pairs_beyond_the_pipelines_views_are_refused():
    from mmsoco.registry import MODELS
    from mmsoco.testing import model_cfg
    cfg = model_cfg('fpn', tiny=True)
    cfg.view_pairs = [(0, 1), (0, 2), (0, 3)]            # SoCo* pairs
    model = MODELS.build(cfg)
    inputs, samples = random_batch(n=1, sizes=(64, 64, 32))   # a 3-view pipeline
    with pytest.raises(ValueError, match='view_pairs use view 4 but only 3 views came'):
        model.loss(inputs, samples)
    sample = make_sample([[[0, 0, 8, 8]]] * 3)
    assert SoCo.pack_rois([sample], 3)[0][0].shape == (1, 5)
