"""Packaging: one version, read from einsumgrad.__version__; the license and type marker ship."""
from importlib import metadata
from pathlib import Path

import einsumgrad as eg


def test_version_is_single_sourced():
    assert metadata.version("einsumgrad") == eg.__version__


def test_license_and_type_marker_are_in_the_package():
    assert (Path(eg.__file__).parent / "py.typed").exists()
    assert metadata.metadata("einsumgrad")["License-Expression"] == "MIT"
