"""Every test runs as configs do: with mmselfsup as the default registry scope."""
import os

# OpenMP threads that spin while waiting make torch 10-25x slower on a 2-core machine as soon as
# anything else runs (measured: ResNet-18 step 2.6 s spinning vs 0.16 s passive).  Must be set
# before torch loads libgomp.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

import pytest  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402

import mmsoco  # noqa: F401,E402  (registers mmsoco's modules)


@pytest.fixture(autouse=True, scope='session')
def mmselfsup_default_scope():
    if DefaultScope.get_current_instance() is None:
        DefaultScope.get_instance('mmsoco-tests', scope_name='mmselfsup')
    yield
