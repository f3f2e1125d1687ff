from .edmoco import EDMoCo
from .patch_rotation import PatchRotation
from .soco import SoCo

__all__ = ['SoCo', 'PatchRotation', 'EDMoCo']
