"""LARS without host syncs: mmselfsup's update, computed with ``torch._foreach_*`` kernels."""
from typing import List

import torch

from mmsoco.host import LARS
from mmsoco.registry import OPTIMIZERS

#: what a parameter group's update depends on: groups equal in these are updated together
_GROUP_KEYS = ('lr', 'weight_decay', 'momentum', 'dampening', 'eta', 'nesterov', 'lars_exclude')


@OPTIMIZERS.register_module()
class ForeachLARS(LARS):
    """mmselfsup's :class:`LARS`, the same update without a host sync per parameter.

    mmselfsup's step reads ``torch.norm(p).item()`` and ``torch.norm(grad).item()`` for every
    parameter, so on a GPU each tensor waits for the device.  This step computes every norm of a
    group at once (``torch._foreach_norm``), the local learning rate of each tensor on the device
    with ``torch.where`` (1 where a weight or gradient norm is zero, as mmselfsup), and applies
    weight decay, momentum and the update with ``torch._foreach_*`` calls.  Per group ``g``,
    parameter ``p`` with gradient ``d``::

        local_lr = eta * |p| / (|d| + weight_decay * |p| + eps)   (1 if lars_exclude)
        d_p = (d + weight_decay * p) * local_lr * lr
        buf = momentum * buf + (1 - dampening) * d_p   (buf = d_p on the first step)
        p -= d_p + momentum * buf if nesterov else buf

    The local learning rate is computed in the parameters' dtype on the device, where mmselfsup
    computes it in Python floats: updates agree to float32 rounding.  The state
    (``momentum_buffer``) and the parameter groups (``lars_exclude``, ``decay_mult``) are
    mmselfsup's, so checkpoints move between the two.  Arguments as :class:`LARS`.
    """

    @torch.no_grad()
    def step(self, closure=None):
        """Performs a single optimization step.

        Args:
            closure (callable, optional): A closure that reevaluates the model and returns the
                loss.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        # mmengine's paramwise_cfg gives every parameter a group of its own: one batch of
        # foreach kernels per set of hyper-parameters, not one per group
        buckets = {}
        for group in self.param_groups:
            key = tuple(group.get(k, False) for k in _GROUP_KEYS)
            bucket = buckets.setdefault(key, (group, []))
            bucket[1].extend(p for p in group['params'] if p.grad is not None)
        for group, params in buckets.values():
            if params:
                self._group_step(group, params)
        return loss

    def _group_step(self, group: dict, params: List[torch.Tensor]) -> None:
        """Update ``params`` (all with gradients) with the hyper-parameters of ``group``."""
        weight_decay, lr = group['weight_decay'], group['lr']
        momentum, dampening = group['momentum'], group['dampening']
        grads = [p.grad for p in params]
        d_ps = torch._foreach_add(grads, params, alpha=weight_decay)       # d + wd * p
        if group.get('lars_exclude', False):
            torch._foreach_mul_(d_ps, lr)
        else:
            weight_norms = torch.stack(torch._foreach_norm(params))       # (n, )
            grad_norms = torch.stack(torch._foreach_norm(grads))          # (n, )
            trust = group['eta'] * weight_norms / (
                grad_norms + weight_decay * weight_norms + self.eps)
            local_lr = torch.where((weight_norms != 0) & (grad_norms != 0), trust,
                                   torch.ones_like(trust))
            torch._foreach_mul_(d_ps, list((local_lr * lr).unbind()))
        if momentum != 0:
            states = [self.state[p] for p in params]
            if all('momentum_buffer' in s for s in states):
                bufs = [s['momentum_buffer'] for s in states]
                torch._foreach_mul_(bufs, momentum)
                torch._foreach_add_(bufs, d_ps, alpha=1 - dampening)
            else:  # first step (or a resumed group without buffers): buf = d_p, as mmselfsup
                bufs = []
                for s, d_p in zip(states, d_ps):
                    if 'momentum_buffer' in s:
                        s['momentum_buffer'].mul_(momentum).add_(d_p, alpha=1 - dampening)
                    else:
                        s['momentum_buffer'] = torch.clone(d_p).detach()
                    bufs.append(s['momentum_buffer'])
            if group['nesterov']:
                torch._foreach_add_(d_ps, bufs, alpha=momentum)
            else:
                d_ps = bufs
        torch._foreach_sub_(params, d_ps)
