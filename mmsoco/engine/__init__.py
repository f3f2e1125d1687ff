from .cpu_distributed import (PlainBNDistributedDataParallel, setup_cpu_distributed,
                              use_plain_bn)
from .hooks import DataFallbackHook

__all__ = ['setup_cpu_distributed', 'use_plain_bn', 'PlainBNDistributedDataParallel',
           'DataFallbackHook']
