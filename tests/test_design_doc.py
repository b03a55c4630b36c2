"""docs/design.md stays true: its examples run, its table of layers names every module, and its list
of upward imports is the one measured from the code (module-level imports and those inside functions)."""
import ast
import doctest
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "einsumgrad"
DOC = ROOT / "docs" / "design.md"
ORDER = ("core", "library", "compiler", "notation", "face", "doors")


def _module(path: Path) -> str:
    """``compiler/plan`` for einsumgrad/compiler/plan.py, as the document writes it."""
    return path.relative_to(PACKAGE).with_suffix("").as_posix()


def _layers() -> dict[str, str]:
    """The document's table: module -> layer."""
    rows = re.findall(r"^\| `([\w/]+)` \| [^|]+ \| (\w+) \|", DOC.read_text(), re.M)
    return dict(rows)


def _upward() -> list[str]:
    layers = _layers()
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        top = {id(n) for n in tree.body}
        here = _module(path)
        package = path.parent.relative_to(PACKAGE).parts
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or not node.level:
                continue
            base = list(package[: len(package) - node.level + 1]) + (node.module.split(".") if node.module else [])
            for alias in node.names:
                target = _target(base, alias.name)
                if ORDER.index(layers[target]) > ORDER.index(layers[here]):
                    found.append(f"- `{here}` ({layers[here]}) → `{target}` ({layers[target]})"
                                 + ("" if id(node) in top else ", in a function"))
    return sorted(set(found))


def _target(base: list[str], name: str) -> str:
    """The module ``from <base> import name`` reads: ``name`` itself where it is a module, else ``base``."""
    for parts in (base + [name], base):
        if PACKAGE.joinpath(*parts).with_suffix(".py").exists():
            return "/".join(parts)
    return "/".join(base + ["__init__"])


def test_examples_run():
    failures, tried = doctest.testfile(str(DOC), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert tried > 10 and failures == 0


def test_every_module_has_a_row_and_a_layer():
    modules = {_module(p) for p in PACKAGE.rglob("*.py")}
    layers = _layers()
    assert set(layers) == modules
    assert set(layers.values()) <= set(ORDER)


def test_every_module_lives_in_its_layers_folder():
    for module, layer in _layers().items():
        folder = module.split("/")[0] if "/" in module else "face"
        assert folder == layer or module == "__main__", f"{module} is in {folder}/, its layer is {layer}"


@pytest.mark.slow
def test_upward_imports_are_the_ones_listed():
    text = DOC.read_text()
    listed = text.split("<!-- upward imports -->\n")[1].split("<!-- end -->")[0].split("\n")
    assert sorted(line for line in listed if line) == _upward()
