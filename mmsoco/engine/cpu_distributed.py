"""Distributed runs without GPUs (gloo), which mmengine 0.10.7's pytorch launcher cannot start.

``mmengine.dist.init_dist('pytorch')`` calls ``torch.cuda.set_device(LOCAL_RANK)`` before it
creates the process group, and the Runner wraps the model in DDP with
``device_ids=[LOCAL_RANK]``: both fail on a machine without GPUs.  For a run started by
``torchrun`` (``tools/dist_train.sh``) on CPUs, :func:`setup_cpu_distributed` creates the gloo
process group itself (the Runner then skips ``init_dist``) and lets DDP wrap a CPU module.

DDP also refuses SyncBN in a CPU module.  :func:`use_plain_bn` (``tools/train.py --plain-bn``,
which ``DEVICE=cpu tools/dist_train.sh`` passes) wraps the model in
:class:`PlainBNDistributedDataParallel`, which turns every SyncBN layer into per-process BN first,
as mmengine's Runner does in a non-distributed run and the demo config's plain ``BN`` norms do.
"""
import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.model import MMDistributedDataParallel, revert_sync_batchnorm
from mmengine.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class PlainBNDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` of a model whose SyncBN layers become per-process BN.

    mmengine's ``revert_sync_batchnorm`` replaces each SyncBN with a BatchNorm of any input
    dimension holding the same parameters and buffers, so the state dict keeps its keys and
    checkpoints load either way; each process normalises with its own batch's statistics.

    Args:
        module (nn.Module): The model (with or without SyncBN layers).
        **kwargs: The arguments of ``MMDistributedDataParallel``.
    """

    def __init__(self, module: torch.nn.Module, **kwargs) -> None:
        super().__init__(module=revert_sync_batchnorm(module), **kwargs)


def use_plain_bn(cfg: Config) -> None:
    """Make a distributed run wrap its model in :class:`PlainBNDistributedDataParallel`.

    Args:
        cfg (Config): The run's config; ``model_wrapper_cfg.type`` is set, its other settings
            are kept.
    """
    cfg.model_wrapper_cfg = dict(cfg.get('model_wrapper_cfg') or {},
                                 type='PlainBNDistributedDataParallel')


def setup_cpu_distributed(cfg: Config) -> bool:
    """Prepare a ``launcher='pytorch'`` run on CPUs; do nothing where CUDA is available.

    Args:
        cfg (Config): The run's config; ``env_cfg.dist_cfg.backend`` and ``model_wrapper_cfg``
            are set for gloo and CPU modules.

    Returns:
        bool: Whether the run was set up for CPUs.
    """
    if cfg.get('launcher', 'none') != 'pytorch' or torch.cuda.is_available():
        return False
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel')
    cfg.model_wrapper_cfg = dict(wrapper, device_ids=None)   # DDP refuses device ids for CPU
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')                # env:// from torchrun
    return True
