from . import algorithms, backbones, heads, necks, roi_extractors, roi_heads, utils  # noqa: F401
