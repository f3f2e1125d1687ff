from .step_speed import apply_step_speed
from .target_network import CosineMomentumEMA

__all__ = ['CosineMomentumEMA', 'apply_step_speed']
