import sys
from pathlib import Path

import numpy as np
import pytest

import einsumgrad as eg

sys.path.insert(0, str(Path(__file__).parent))

import profiles  # noqa: E402 - loads the hypothesis profile of EINSUMGRAD_PROFILE before any test module is read


def pytest_report_header(config):
    return f"einsumgrad test profile: {profiles.NAME} (EINSUMGRAD_PROFILE=dev|ci)"


def pytest_collection_modifyitems(config, items):
    """The dev profile leaves out the tests marked slow, unless a -m expression chooses which run."""
    if profiles.NAME != "dev" or config.option.markexpr:
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]


@pytest.fixture
def rng():
    """A fresh generator per test, so that a test's data never depends on which tests ran before it."""
    return np.random.default_rng(42)


@pytest.fixture
def restore_settings():
    """Restores the settings that a test changes with eg.configure."""
    saved = eg.configure()
    yield
    eg.configure(memory_limit="auto" if saved["memory_limit"] is None else saved["memory_limit"],
                 plan_cache_size=saved["plan_cache_size"], straight_limit=saved["straight_limit"],
                 fuse=saved["fuse"])


@pytest.fixture(params=["straight", "steps", "unfused"])
def runs(request):
    """Runs a test three ways: small programs as straight-line code (the default), step by step with
    elementwise chains fused (the default for large ones), and step by step without fusion."""
    saved = eg.configure()
    if request.param != "straight":
        eg.configure(straight_limit=0, fuse=request.param == "steps")
        eg.clear_caches()
    yield request.param
    eg.configure(straight_limit=saved["straight_limit"], fuse=saved["fuse"])
    eg.clear_caches()
