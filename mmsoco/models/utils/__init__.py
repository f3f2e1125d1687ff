from .target_network import CosineMomentumEMA

__all__ = ['CosineMomentumEMA']
