from .cpu_distributed import (PlainBNDistributedDataParallel, setup_cpu_distributed,
                              use_plain_bn)
from .hooks import DataFallbackHook
from .optimizers import ForeachLARS

__all__ = ['setup_cpu_distributed', 'use_plain_bn', 'PlainBNDistributedDataParallel',
           'DataFallbackHook', 'ForeachLARS']
