from .formatting import PackSoCoInputs
from .geometric import BoxAwareRandomFlip
from .geometric_views import GeometricMultiView
from .loading import LoadImageOrSkip
from .original_views import SoCoOriginalViews
from .patch_rotation import RandomPatchRotate
from .photometric import BoxCutout, FastColorJitter, FastGaussianBlur, FastGrayscale, FastSolarize
from .proposals import WHOLE_IMAGE_ID, BoxJitter, FitProposals, SelectProposals
from .views import BaseSoCoViews, SoCoViews

__all__ = [
    'LoadImageOrSkip', 'FitProposals', 'SelectProposals', 'BoxJitter', 'BaseSoCoViews',
    'SoCoViews', 'SoCoOriginalViews', 'BoxAwareRandomFlip', 'FastColorJitter', 'FastGrayscale',
    'FastGaussianBlur', 'FastSolarize', 'BoxCutout', 'PackSoCoInputs', 'WHOLE_IMAGE_ID',
    'RandomPatchRotate', 'GeometricMultiView'
]
