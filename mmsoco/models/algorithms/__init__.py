from .edmoco import EDMoCo
from .patch_edmoco import PatchEDMoCo
from .patch_moco import PatchMoCo
from .patch_rotation import PatchRotation
from .soco import SoCo

__all__ = ['SoCo', 'PatchRotation', 'EDMoCo', 'PatchMoCo', 'PatchEDMoCo']
