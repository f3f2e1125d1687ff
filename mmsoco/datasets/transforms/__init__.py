from .formatting import PackSoCoInputs
from .geometric import BoxAwareRandomFlip
from .loading import LoadImageOrSkip
from .patch_rotation import RandomPatchRotate
from .photometric import BoxCutout, FastColorJitter, FastGaussianBlur, FastGrayscale, FastSolarize
from .proposals import WHOLE_IMAGE_ID, BoxJitter, SelectProposals
from .views import SoCoViews

__all__ = [
    'LoadImageOrSkip', 'SelectProposals', 'BoxJitter', 'SoCoViews', 'BoxAwareRandomFlip',
    'FastColorJitter', 'FastGrayscale', 'FastGaussianBlur', 'FastSolarize', 'BoxCutout',
    'PackSoCoInputs', 'WHOLE_IMAGE_ID', 'RandomPatchRotate'
]
