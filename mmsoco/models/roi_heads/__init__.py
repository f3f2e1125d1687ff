from .res5_extra_norm import ResLayerExtraNorm

__all__ = ['ResLayerExtraNorm']
