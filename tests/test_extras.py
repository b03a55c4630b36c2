"""The extras of pyproject.toml: every one an error message or the documentation names exists, [all] is the union
of the features' extras, and a missing optional package's error names the command that installs it (the package
made missing by a None in sys.modules, as Python's import reads it)."""
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import einsumgrad as eg
from einsumgrad.compiler import check_backend, namespaces
from einsumgrad.core import extras, xp
from einsumgrad.core.errors import EinsumgradError, MissingPackageError
from einsumgrad.doors.cli import main
from einsumgrad.notation import plot

ROOT = Path(__file__).parents[1]
tomllib = pytest.importorskip("tomllib")  # Python 3.11+
FEATURES = ("jax", "torch", "dask", "plot", "web")  # the extras of einsumgrad's own features, which [all] joins


@pytest.fixture(scope="module")
def extras_declared() -> dict[str, list[str]]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]


def missing(monkeypatch, package: str) -> None:
    """Make ``package`` and its modules (jax.numpy, ...) impossible to import for this test."""
    for name in [n for n in sys.modules if n == package or n.startswith(package + ".")] + [package]:
        monkeypatch.setitem(sys.modules, name, None)


def _named(text: str) -> set[str]:
    """The extras that ``pip install 'einsumgrad[a,b]'`` or ``pip install '.[a]'`` in ``text`` names."""
    return {e.strip() for group in re.findall(r"(?:einsumgrad|\.)\[([\w,\- ]+)\]", text) for e in group.split(",")}


def test_every_extra_an_error_or_the_docs_name_exists(extras_declared):
    named = set(extras.EXTRAS.values())
    for path in [*(ROOT / "einsumgrad").rglob("*.py"), ROOT / "README.md", ROOT / ".ci" / "run", ROOT / "pyproject.toml",
                 *(ROOT / "docs").glob("**/*.md")]:
        if path.exists():
            named |= {e for e in _named(path.read_text()) if e}
    assert {"jax", "torch", "dask", "plot", "test-all"} <= named
    assert named <= set(extras_declared), named - set(extras_declared)


def test_all_is_the_union_of_the_features(extras_declared):
    union = {r for extra in FEATURES for r in extras_declared[extra]}
    assert sorted(extras_declared["all"]) == sorted(union)
    assert set(FEATURES) <= set(extras_declared) and extras_declared["web"] == []


def test_test_pulls_only_the_test_runners_and_test_all_adds_the_features_but_torch(extras_declared):
    assert [r.split(">")[0] for r in extras_declared["test"]] == ["pytest", "hypothesis"]
    first, *tools = extras_declared["test-all"]
    assert first == "einsumgrad[test,jax,dask,plot,docs]"  # the site's build too; torch: CI installs its pinned CPU build by itself
    assert {t.split(">")[0] for t in tools} == {"mypy", "array-api-strict", "playwright", "nbclient", "nbformat",
                                                "ipykernel"}


def test_the_ci_installs_the_extras_the_readme_s_test_line_installs():
    if not (ROOT / ".ci" / "run").exists():
        pytest.skip(".ci/run is not in the sdist")
    ci = (ROOT / ".ci" / "run").read_text()
    installed = [_named(line) for line in ci.splitlines() if line.startswith("pip install -q '.[")]
    assert [extras for extras in installed if any(e.startswith("test") for e in extras)] == [{"test-all"}]


@pytest.mark.parametrize("backend,extra", [("jax", "jax"), ("torch", "torch"), ("dask", "dask")])
def test_a_missing_backend_names_its_extra(monkeypatch, backend, extra):
    missing(monkeypatch, backend)
    x = eg.tensor("x", 1)
    with pytest.raises(EinsumgradError, match=re.escape(f"pip install 'einsumgrad[{extra}]'")):
        check_backend(backend)
    with pytest.raises(EinsumgradError, match=re.escape(f"backend={backend!r} needs the package {backend!r}, which "
                                                        f"is not installed: pip install 'einsumgrad[{extra}]'")):
        eg.compile(eg.sum(x), backend=backend)


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_a_missing_array_library_names_its_extra(monkeypatch, backend):
    missing(monkeypatch, backend)
    hint = re.escape(f"pip install 'einsumgrad[{backend}]'")
    with pytest.raises(MissingPackageError, match=f"backend='{backend}' needs {backend}, which is not installed: {hint}"):
        namespaces.module(backend)
    with pytest.raises(MissingPackageError, match=f"the {backend} backend needs {backend}, .*{hint}"):
        xp.namespace(backend)


@pytest.mark.parametrize("wrapper,package", [(eg.jax_function, "jax"), (eg.torch_function, "torch")])
def test_the_framework_wrappers_name_their_extra(monkeypatch, wrapper, package):
    missing(monkeypatch, package)
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    with pytest.raises(MissingPackageError) as err:
        wrapper(eg.sum(W @ x), args=(W, x))
    assert str(err.value) == (f"{wrapper.__name__} needs {package}, which is not installed: "
                              f"pip install 'einsumgrad[{package}]'")
    assert isinstance(err.value, ImportError) and isinstance(err.value, ValueError)  # caught either way


def test_a_plot_without_matplotlib_names_the_plot_extra(monkeypatch, capsys, tmp_path):
    missing(monkeypatch, "matplotlib")
    with pytest.raises(MissingPackageError, match=re.escape("--plot needs matplotlib, which is not installed: "
                                                            "pip install 'einsumgrad[plot]'")):
        plot.plot(np.zeros((2, 2)), str(tmp_path / "J.png"), "J")
    status = main(["jacobian", "ij,j->i", "--names", "W,x", "--shapes", "2x3,3", "--plot", str(tmp_path / "J.png")])
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    assert err == "einsumgrad: error: --plot needs matplotlib, which is not installed: pip install 'einsumgrad[plot]'\n"


def test_a_package_that_is_there_but_fails_to_import_is_not_called_missing(monkeypatch, tmp_path):
    (tmp_path / "broken_extra_pkg.py").write_text("import a_module_nobody_has_0451\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError) as err:
        extras.require("broken_extra_pkg", "this")
    assert not isinstance(err.value, MissingPackageError) and err.value.name == "a_module_nobody_has_0451"


def test_install_names_an_extra_only_where_there_is_one():
    assert extras.install("jax.numpy") == "pip install 'einsumgrad[jax]'"
    assert extras.install("matplotlib.pyplot") == "pip install 'einsumgrad[plot]'"
    assert extras.install("cupy") == "pip install cupy"
