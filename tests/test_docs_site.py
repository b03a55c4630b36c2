"""The documentation site builds with warnings as errors (mkdocs build --strict), its API reference from the
package: every public name of einsumgrad.__all__ has its entry, every registered function its row."""
import os
import pathlib
import subprocess
import sys

import pytest

import einsumgrad as eg
from einsumgrad.core import functions

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_site_builds_strictly(tmp_path):
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        pytest.importorskip(module, reason="the docs extra (pip install '.[docs]') builds the site")
    site = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                           "-d", str(site)], capture_output=True, text=True, encoding="utf-8", timeout=600,
                          cwd=ROOT, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr[-4000:]
    api = (site / "reference" / "api" / "index.html").read_text(encoding="utf-8")
    registered = set(functions.public())
    for name in eg.__all__:
        assert (f"<code>eg.{name}</code>" if name in registered else f'id="einsumgrad.{name}"') in api, name
    for page in ("questions", "getting-started", "guide/training", "performance", "design", "contributing",
                 "changelog"):
        assert (site / page / "index.html").is_file(), page
    assert "0.2.0" in (site / "changelog" / "index.html").read_text(encoding="utf-8")
