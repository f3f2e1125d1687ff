from .scale_aware_roi_extractor import ScaleAwareRoIExtractor

__all__ = ['ScaleAwareRoIExtractor']
