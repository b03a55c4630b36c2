"""The benchmark scripts run in --quick mode, so that they never rot (timings are not asserted)."""
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # every benchmark script, run quick, in a subprocess

BENCHMARKS = Path(__file__).parent.parent / "benchmarks"


@pytest.mark.parametrize("script", ["paths.py", "autodiff.py", "targets.py", "scale.py", "deep.py", "cliffs.py",
                                    "codegen.py"])
def test_benchmark_runs_quick(script):
    r = subprocess.run([sys.executable, str(BENCHMARKS / script), "--quick"], capture_output=True, text=True,
                       timeout=600, cwd=BENCHMARKS)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert r.stdout.startswith("| ") or r.stdout.startswith("note: dask is not installed")
    assert "cores" in r.stdout or "not installed" in r.stdout
