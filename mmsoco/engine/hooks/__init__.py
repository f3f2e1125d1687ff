from .data_fallback_hook import DataFallbackHook

__all__ = ['DataFallbackHook']
