from .data_fallback_hook import DataFallbackHook
from .precise_bn_hook import DetPreciseBNHook
from .step_speed_hook import StepSpeedHook

__all__ = ['DataFallbackHook', 'DetPreciseBNHook', 'StepSpeedHook']
