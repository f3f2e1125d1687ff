"""Test helper loaded by tests/configs/soco_tiny_demo.py: each rank writes a weights digest."""
import hashlib
import os.path as osp

from mmengine.dist import get_rank
from mmengine.hooks import Hook

from mmsoco.registry import HOOKS


@HOOKS.register_module(force=True)
class ParamDigestHook(Hook):
    """After training, write ``digest_rank{r}.txt``: sha256 of all parameters, online and target.

    Buffers are left out: BN running statistics follow each rank's own data.
    """

    def after_train(self, runner):
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        h = hashlib.sha256()
        for name, tensor in sorted(model.named_parameters()):
            h.update(name.encode())
            h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        with open(osp.join(runner.work_dir, f'digest_rank{get_rank()}.txt'), 'w') as f:
            f.write(f'{h.hexdigest()} {runner.iter}\n')
