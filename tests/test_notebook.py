"""The example notebook runs top to bottom and shows its answers as HTML (MathML)."""
import pathlib

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook test needs nbformat: pip install nbformat")
nbclient = pytest.importorskip("nbclient", reason="the notebook test needs nbclient: pip install nbclient")
pytest.importorskip("ipykernel", reason="the notebook test needs ipykernel: pip install ipykernel")

pytestmark = pytest.mark.slow  # a notebook run in a kernel

NOTEBOOK = pathlib.Path(__file__).parent.parent / "examples" / "wx_question.ipynb"


def test_the_wx_notebook_runs_and_shows_mathml():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    html = [o["data"]["text/html"] for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if "text/html" in o.get("data", {})]
    assert len(html) == 5  # the Jacobian, its derivation, the slices, the gradient, the check
    assert "<math" in html[0] and "J[:, :, 2] = 2 I" in html[2] and "PASS" in html[4]
