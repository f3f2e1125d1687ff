"""Test helper loaded by tests/configs/soco_tiny_demo.py: each rank writes weights digests."""
import hashlib
import os.path as osp

from mmengine.dist import get_rank
from mmengine.hooks import Hook

from mmsoco.registry import HOOKS


@HOOKS.register_module(force=True)
class ParamDigestHook(Hook):
    """Weights digests a test compares.

    - Before training (after a resume has loaded its checkpoint): ``start_digest_rank{r}.txt``,
      sha256 of the whole state dict (as :func:`state_dict_digest` computes it for a
      checkpoint's ``state_dict``) and the iteration the run starts at.
    - After training: ``digest_rank{r}.txt``, sha256 of all parameters, online and target.
      Buffers are left out: BN running statistics follow each rank's own data.
    """

    def before_train(self, runner):
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        with open(osp.join(runner.work_dir, f'start_digest_rank{get_rank()}.txt'), 'w') as f:
            f.write(f'{state_dict_digest(model.state_dict())} {runner.iter}\n')

    def after_train(self, runner):
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        h = hashlib.sha256()
        for name, tensor in sorted(model.named_parameters()):
            h.update(name.encode())
            h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        with open(osp.join(runner.work_dir, f'digest_rank{get_rank()}.txt'), 'w') as f:
            f.write(f'{h.hexdigest()} {runner.iter}\n')


def state_dict_digest(state_dict):
    """sha256 over a state dict's names and tensor bytes, in name order."""
    h = hashlib.sha256()
    for name, tensor in sorted(state_dict.items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()
