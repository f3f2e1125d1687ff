from .cpu_distributed import setup_cpu_distributed
from .hooks import DataFallbackHook

__all__ = ['setup_cpu_distributed', 'DataFallbackHook']
