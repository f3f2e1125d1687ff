from . import algorithms, heads, necks, roi_extractors, roi_heads, utils  # noqa: F401
