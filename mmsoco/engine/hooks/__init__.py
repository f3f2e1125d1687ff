from .data_fallback_hook import DataFallbackHook
from .precise_bn_hook import DetPreciseBNHook

__all__ = ['DataFallbackHook', 'DetPreciseBNHook']
