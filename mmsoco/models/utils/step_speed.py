"""Speed switches for the feature networks of SoCo: channels_last memory and ``torch.compile``.

Both act on the backbone and neck (FPN) of the online and the target network, the part of the
step where the convolutions are; heads, MLPs and the loss stay as they are.  They change no
weight, no state-dict key and, up to floating-point reassociation, no result
(``tests/test_step_speed.py``).
"""
from typing import List, Optional, Union

import torch
import torch.nn as nn


def feature_networks(model: nn.Module) -> List[nn.Module]:
    """Backbone and neck of the online and the target network of a SoCo model, in that order.

    Args:
        model (nn.Module): A built :class:`SoCo` (not wrapped in DDP).

    Returns:
        list[nn.Module]: ``[backbone, neck, target backbone, target neck]``; a model without a
        neck (C4) gives the two backbones.
    """
    target = model.target_net.module
    nets = [model.backbone, model.neck if model.with_neck else None,
            target['backbone'], target['neck'] if 'neck' in target else None]
    return [n for n in nets if n is not None]


def _input_channels_last(module: nn.Module, args: tuple) -> tuple:
    return (args[0].contiguous(memory_format=torch.channels_last), ) + args[1:]


def _outputs_contiguous(module: nn.Module, args: tuple, output):
    # mmcv's RoIAlign indexes its input as contiguous NCHW and checks nothing: channels_last
    # feature maps would be pooled from the wrong memory, without an error
    return tuple(o.contiguous() for o in output)


def to_channels_last(model: nn.Module) -> None:
    """Convolution weights and the backbone's input in channels_last; feature maps back to NCHW.

    The whole model's 4-d parameters and buffers move to channels_last (the target network's
    too, so the EMA update reads and writes one layout); the backbones turn their input into
    channels_last, and the last feature network of each branch (the FPN, or the C4 backbone)
    returns contiguous NCHW maps for RoIAlign.  Idempotent.

    Args:
        model (nn.Module): A built :class:`SoCo`, on its device.
    """
    if getattr(model, '_channels_last', False):
        return
    model.to(memory_format=torch.channels_last)
    target = model.target_net.module
    for backbone, last in ((model.backbone, model.neck if model.with_neck else model.backbone),
                           (target['backbone'], target['neck'] if 'neck' in target
                            else target['backbone'])):
        backbone.register_forward_pre_hook(_input_channels_last)
        last.register_forward_hook(_outputs_contiguous)
    model._channels_last = True


def compile_feature_networks(model: nn.Module, **compile_kwargs) -> None:
    """``torch.compile`` each of :func:`feature_networks` in place (``nn.Module.compile``).

    Args:
        model (nn.Module): A built :class:`SoCo`.
        **compile_kwargs: Passed to ``torch.compile`` (e.g. ``mode``, ``backend``, ``dynamic``).
    """
    for net in feature_networks(model):
        net.compile(**compile_kwargs)


def apply_step_speed(model: nn.Module, channels_last: bool = False,
                     compile: Optional[Union[bool, dict]] = False) -> None:
    """Apply the switches to a built SoCo model (channels_last first, then compile).

    Args:
        model (nn.Module): A built :class:`SoCo`, unwrapped.
        channels_last (bool): See :func:`to_channels_last`. Defaults to False.
        compile (bool or dict): True, or ``torch.compile`` keyword arguments, to compile the
            feature networks. Defaults to False.
    """
    if channels_last:
        to_channels_last(model)
    if compile:
        compile_feature_networks(model, **(compile if isinstance(compile, dict) else {}))
