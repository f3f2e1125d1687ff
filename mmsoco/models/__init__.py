from . import algorithms, heads, necks, roi_extractors, utils  # noqa: F401
