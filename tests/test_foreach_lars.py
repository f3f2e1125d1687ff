"""``ForeachLARS`` (no host sync per parameter) gives mmselfsup's LARS updates: on hand-set
gradients over groups built by the shipped ``paramwise_cfg`` (BN and biases excluded from LARS
adaptation and weight decay; one more tensor excluded from adaptation only; a zero gradient, a
parameter without gradient), with and without
Nesterov momentum, and over two SoCo training steps (losses and weights)."""
import copy

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from step_utils import assert_same_weights, copies, lars_wrapper_cfg, tiny_soco, two_steps

#: the tolerance of the updates: the local learning rate is float32 on the device in
#: ForeachLARS, a Python float in mmselfsup.  The momentum buffers (the accumulated updates)
#: agree to UPDATE_RTOL of their largest value, the weights to WEIGHT_ATOL (weights are O(1),
#: so a difference of the updates shows there only as float32 rounding of the weights)
UPDATE_RTOL = 1e-6
WEIGHT_ATOL = 1e-6


class _Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3)
        self.bn = torch.nn.BatchNorm2d(8)
        self.fc = torch.nn.Linear(8, 4)
        self.zero = torch.nn.Linear(4, 4, bias=False)     # gets a zero gradient
        self.unused = torch.nn.Linear(4, 4)                # gets no gradient
        # excluded from LARS adaptation but not from weight decay (not in the shipped configs)
        self.excluded = torch.nn.Linear(4, 4, bias=False)


def _wrapper(net, optimizer, nesterov):
    cfg = lars_wrapper_cfg(optimizer, nesterov=nesterov)
    cfg['paramwise_cfg']['custom_keys']['excluded'] = dict(lars_exclude=True)
    return build_optim_wrapper(net, cfg)


def _assert_same_updates(wrappers, nets):
    ref = dict(nets['ref'].named_parameters())
    for name, p in nets['fast'].named_parameters():
        torch.testing.assert_close(p, ref[name], rtol=0, atol=WEIGHT_ATOL, msg=name)
        state, ref_state = (wrappers['fast'].optimizer.state[p],
                            wrappers['ref'].optimizer.state[ref[name]])
        assert ('momentum_buffer' in state) == ('momentum_buffer' in ref_state), name
        if 'momentum_buffer' in state:
            buf, ref_buf = state['momentum_buffer'], ref_state['momentum_buffer']
            torch.testing.assert_close(buf, ref_buf, rtol=0, msg=name,
                                       atol=UPDATE_RTOL * ref_buf.abs().max().item())


@pytest.mark.parametrize('nesterov', [False, True])
def test_updates_equal_mmselfsup_lars_with_excluded_groups(nesterov):
    torch.manual_seed(0)
    net = _Net()
    with torch.no_grad():
        net.bn.weight.uniform_(0.5, 1.5)
    net_before = copy.deepcopy(net)
    nets = dict(ref=net, fast=copy.deepcopy(net))
    wrappers = {k: _wrapper(m, 'LARS' if k == 'ref' else 'ForeachLARS', nesterov)
                for k, m in nets.items()}
    groups = wrappers['fast'].optimizer.param_groups
    excluded = {id(p) for g in groups if g.get('lars_exclude') for p in g['params']}
    assert id(nets['fast'].bn.weight) in excluded and id(nets['fast'].fc.bias) in excluded
    assert id(nets['fast'].fc.weight) not in excluded
    assert id(nets['fast'].excluded.weight) in excluded
    assert {g['weight_decay'] for g in groups if g.get('lars_exclude')} == {0, 1e-5}
    g = torch.Generator().manual_seed(1)
    for step in range(3):                        # the first step creates the momentum buffers
        grads = {n: torch.randn(p.shape, generator=g) for n, p in net.named_parameters()}
        grads['zero.weight'].zero_()
        unused = nets['fast'].unused.weight.detach().clone()
        for key, model in nets.items():
            for n, p in model.named_parameters():
                p.grad = None if n.startswith('unused') else grads[n].clone()
            wrappers[key].step()
        _assert_same_updates(wrappers, nets)
        assert torch.equal(nets['fast'].unused.weight, unused)
    # the zero gradient still moved its weight: weight decay at LARS's fallback rate 1
    assert not torch.equal(nets['fast'].zero.weight, net_before.zero.weight)


def test_two_soco_steps_give_the_same_losses_and_weights():
    # float64 (tiny_soco): the local learning rates agree to float64 rounding
    reference, fast = copies(tiny_soco())
    losses = two_steps(reference, 'LARS')
    assert two_steps(fast, 'ForeachLARS') == pytest.approx(losses, rel=1e-9)
    assert_same_weights(fast, reference, rtol=1e-9, atol=1e-12)
