import sys
from pathlib import Path

import numpy as np
import pytest

import einsumgrad as eg

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def rng():
    """A fresh generator per test, so that a test's data never depends on which tests ran before it."""
    return np.random.default_rng(42)


@pytest.fixture
def restore_settings():
    """Restores the memory limit and plan-cache size that a test changes with eg.configure."""
    saved = eg.configure()
    yield
    eg.configure(memory_limit="auto" if saved["memory_limit"] is None else saved["memory_limit"],
                 plan_cache_size=saved["plan_cache_size"])
