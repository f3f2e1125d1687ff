"""``python -m data_prep.annotations``: see :mod:`data_prep.annotations.cli`."""
import sys

from .cli import main

sys.exit(main())
