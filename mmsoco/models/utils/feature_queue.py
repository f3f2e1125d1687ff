"""MoCo's queue of negative keys, for any number of keys per step."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_gather


class FeatureQueue(nn.Module):
    """A first-in first-out queue of ``length`` unit vectors, MoCo's negatives.

    The state of mmselfsup's ``MoCo`` (``queue`` (dim, length), random unit columns at the start,
    and ``ptr``), written here because its ``_dequeue_and_enqueue`` requires the length to be a
    multiple of the keys per step, which patch-level keys (a number of cells per image) and a last
    short batch break.  Here the write wraps around the end.

    Args:
        dim (int): Dimension of the keys.
        length (int): Number of keys kept.
    """

    def __init__(self, dim: int, length: int) -> None:
        super().__init__()
        if length < 1:
            raise ValueError(f'queue length must be >= 1, got {length}')
        self.length = length
        self.register_buffer('queue', F.normalize(torch.randn(dim, length), dim=0))
        self.register_buffer('ptr', torch.zeros(1, dtype=torch.long))

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        """Gather ``keys`` (n, dim) from every rank and write them over the oldest entries.

        With more keys than ``length`` only the last ``length`` are kept.
        """
        # mmselfsup's concat_all_gather (mmengine's all_gather, concatenated): no host import
        keys = torch.cat(all_gather(keys.detach().contiguous()), dim=0)
        keys = keys[-self.length:]
        n = len(keys)
        ptr = int(self.ptr)
        index = (torch.arange(n, device=keys.device) + ptr) % self.length
        self.queue[:, index] = keys.t().to(self.queue.dtype)
        self.ptr[0] = (ptr + n) % self.length

    def forward(self) -> torch.Tensor:
        """The queue, detached: (dim, length)."""
        return self.queue.clone().detach()
