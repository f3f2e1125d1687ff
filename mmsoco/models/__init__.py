from . import algorithms, heads, necks, roi_extractors  # noqa: F401
