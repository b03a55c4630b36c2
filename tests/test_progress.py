"""Progress lines and dask's progress bar appear on a terminal only, never in piped output."""
import io
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
import harness  # noqa: E402 - the benchmarks' shared module, as their scripts import it


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("stream,shown", [(io.StringIO(), False), (Terminal(), True)])
def test_stage_lines_and_dask_progress_only_on_a_terminal(stream, shown, monkeypatch):
    da = pytest.importorskip("dask.array")
    monkeypatch.setattr(sys, "stderr", stream)
    harness.stage("the Hessian")
    with harness.dask_progress():
        assert float(da.ones(10, chunks=5).sum().compute(scheduler="threads")) == 10.0
    text = stream.getvalue()
    assert ("… the Hessian" in text) == shown and ("100%" in text) == shown
