"""The speed switches of the training step give the default's results on the CPU: channels_last
through backbone and FPN (feature maps made contiguous for RoIAlign) and ``torch.compile`` of
backbone and FPN, each over two training steps with the shipped LARS (losses, online and target
weights); switched on from a config through ``StepSpeedHook``."""
import types

import pytest
import torch
from step_utils import assert_same_weights, copies, tiny_soco, two_steps

from mmsoco.models.utils.step_speed import apply_step_speed, feature_networks
from mmsoco.registry import HOOKS

#: float64 model (tiny_soco), the loss in float32 (SoCo.pair_loss): other summation orders move
#: the losses by about 2e-6 (relative) and the weights and BN statistics by about 3e-6
LOSS_RTOL, WEIGHT_RTOL, WEIGHT_ATOL = 1e-5, 1e-5, 1e-6


def test_channels_last_gives_the_same_losses_and_weights():
    reference, fast = copies(tiny_soco())
    apply_step_speed(fast, channels_last=True)
    assert fast.backbone.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    target_conv = fast.target_net.module['backbone'].conv1.weight
    assert target_conv.is_contiguous(memory_format=torch.channels_last)
    losses = two_steps(reference)
    assert two_steps(fast) == pytest.approx(losses, rel=LOSS_RTOL)
    assert_same_weights(fast, reference, rtol=WEIGHT_RTOL, atol=WEIGHT_ATOL)


def test_hook_switches_channels_last_from_a_config():
    model = tiny_soco()
    hook = HOOKS.build(dict(type='StepSpeedHook', channels_last=True))
    hook.before_train(types.SimpleNamespace(model=model))
    assert all(p.is_contiguous(memory_format=torch.channels_last)
               for net in feature_networks(model) for p in net.parameters() if p.dim() == 4)
    with pytest.raises(TypeError, match='compile must be'):
        HOOKS.build(dict(type='StepSpeedHook', compile='max-autotune'))


#: torch.compile's backend in the test.  The default, inductor, generates and builds C++ for
#: every graph (online forward and backward, target forward, each view size): on a 2-core CPU
#: shared with other work it had not finished the two steps of the tiny model after 14 minutes
#: (2026-12-07).  aot_eager runs the same capture (TorchDynamo, AOTAutograd's forward and
#: backward graphs) and executes them eagerly: what compile changes about the model is tested,
#: inductor's kernels are not (a GPU run measures them).
COMPILE_BACKEND = 'aot_eager'


def test_compile_gives_the_same_losses_and_weights():
    reference, fast = copies(tiny_soco())
    apply_step_speed(fast, compile=dict(backend=COMPILE_BACKEND))
    assert all(getattr(net, '_compiled_call_impl', None) is not None
               for net in feature_networks(fast))
    losses = two_steps(reference)
    assert two_steps(fast) == pytest.approx(losses, rel=LOSS_RTOL)
    assert_same_weights(fast, reference, rtol=WEIGHT_RTOL, atol=WEIGHT_ATOL)
