"""Distributed runs without GPUs (gloo), which mmengine 0.10.7's pytorch launcher cannot start.

``mmengine.dist.init_dist('pytorch')`` calls ``torch.cuda.set_device(LOCAL_RANK)`` before it
creates the process group, and the Runner wraps the model in DDP with
``device_ids=[LOCAL_RANK]``: both fail on a machine without GPUs.  For a run started by
``torchrun`` (``tools/dist_train.sh``) on CPUs, :func:`setup_cpu_distributed` creates the gloo
process group itself (the Runner then skips ``init_dist``) and lets DDP wrap a CPU module.
"""
import torch
import torch.distributed as dist
from mmengine.config import Config


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
