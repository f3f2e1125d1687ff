"""Speed switches of the training step, set in a config."""
from typing import Optional, Union

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmsoco.models.utils.step_speed import apply_step_speed
from mmsoco.registry import HOOKS


@HOOKS.register_module()
class StepSpeedHook(Hook):
    """channels_last and ``torch.compile`` of the backbone and FPN, before the first step.

    Each switch gives the default's losses and weights up to floating-point reassociation
    (``tests/test_step_speed.py``); whether it is faster depends on the device (see
    docs/benchmarks.md)::

        custom_hooks = [dict(type='StepSpeedHook', channels_last=True, compile=True)]

    It runs at ``before_train``, after weights are initialised or resumed.  Under DDP the model
    is already wrapped then: channels_last gradients are copied into DDP's NCHW buckets (DDP
    warns about the strides once), which is correct but costs a copy.

    Args:
        channels_last (bool): See :func:`mmsoco.models.utils.step_speed.to_channels_last`.
            Defaults to False.
        compile (bool or dict): True, or ``torch.compile`` keyword arguments. Defaults to False.
    """

    priority = 'VERY_HIGH'

    def __init__(self, channels_last: bool = False,
                 compile: Optional[Union[bool, dict]] = False) -> None:
        if not isinstance(compile, (bool, dict)):
            raise TypeError(f'StepSpeedHook: compile must be True, False or a dict of '
                            f'torch.compile arguments, got {compile!r}')
        self.channels_last = channels_last
        self.compile = compile

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        apply_step_speed(model, self.channels_last, self.compile)
