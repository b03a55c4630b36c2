"""The test profiles (tests/profiles.py): EINSUMGRAD_PROFILE=dev scales every property test's examples down and
leaves out the tests marked slow; ci, the default, keeps both; a -m expression chooses for itself."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent


def collect(profile: str | None, *args: str) -> list[str]:
    """The test ids pytest collects for ``args`` under ``profile`` (None: the variable unset)."""
    env = {k: v for k, v in os.environ.items() if k != "EINSUMGRAD_PROFILE"}
    if profile is not None:
        env["EINSUMGRAD_PROFILE"] = profile
    r = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-p", "no:cacheprovider", *args],
                       capture_output=True, text=True, timeout=120, cwd=TESTS.parent, env=env)
    assert r.returncode in (0, 5), r.stdout[-2000:] + r.stderr[-2000:]  # 5: every test deselected
    return [line for line in r.stdout.splitlines() if "::" in line]


@pytest.mark.slow
def test_dev_leaves_out_the_slow_tests_and_ci_keeps_them():
    files = ["tests/test_benchmarks.py", "tests/test_determinism.py"]  # quick to collect
    ci, default, dev = collect("ci", *files), collect(None, *files), collect("dev", *files)
    assert ci == default and len(ci) > len(dev) > 0
    assert not any("test_benchmarks.py" in t for t in dev)  # a module marked slow
    assert not any("test_output_and_plans_do_not_depend_on_the_hash_seed" in t for t in dev)
    assert set(dev) < set(ci)
    chosen = collect("dev", "-m", "slow", *files)  # -m chooses for itself
    assert set(chosen) == set(ci) - set(dev)


@pytest.mark.slow
def test_examples_scale_with_the_profile():
    code = "import profiles; print(profiles.examples(1000), profiles.examples(40), profiles.NAME)"
    def run(profile):
        env = {**os.environ, "EINSUMGRAD_PROFILE": profile}
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=TESTS, env=env)
    assert run("ci").stdout.split() == ["1000", "40", "ci"]
    assert run("dev").stdout.split() == ["50", "5", "dev"]
    bad = run("quick")
    assert bad.returncode != 0 and "EINSUMGRAD_PROFILE='quick': choose one of ci, dev" in bad.stderr


def test_every_explicit_count_of_examples_scales():
    """A test's own ``max_examples=N`` is not overridden by a hypothesis profile: each is written examples(N)."""
    for path in TESTS.glob("test_*.py"):
        text = path.read_text()
        assert "max_examples=examples(" in text or "max_examples=" not in text.replace(
            "max_examples=profiles.examples(", ""), path.name


def test_the_slow_marker_is_registered():
    tomllib = pytest.importorskip("tomllib")
    markers = tomllib.loads((TESTS.parent / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["markers"]
    assert any(m.startswith("slow:") for m in markers)
