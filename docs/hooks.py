"""MkDocs hook: the API reference page is written from the package itself, so it follows the code.

``<!-- api -->`` on a page becomes one mkdocstrings entry (``::: einsumgrad.<name>``) for every name in
``einsumgrad.__all__`` that is not a registered function, grouped by the sections below (a name in no section
goes under "More", so a new public name appears without editing the docs); ``<!-- functions -->`` becomes a
table of the registered functions (``eg.<name>``), with each one's signature and, where it has one, the
gradient einsumgrad prints for it; ``<!-- benchmarks -->`` a table of the benchmark scripts.

:class:`DocstringMarkdown`, a griffe extension (mkdocs.yml loads it for mkdocstrings), reads the package's
reStructuredText habits as Markdown: a ``>>>`` session becomes a ``pycon`` block, ``:mod:`x``` becomes ``x``.
"""
from __future__ import annotations

import inspect
import pathlib
import re

import griffe

ROLE = re.compile(r":(?:py:)?(?:mod|func|class|data|attr|meth|obj|exc):`~?([^`]+)`")

SECTIONS = {
    "Building expressions": ["Expression", "tensor", "scalar", "eye", "einsum", "sum", "trace", "function",
                             "reshape", "kron", "concatenate", "stack", "expand_dims", "parse", "parse_latex"],
    "Derivatives": ["jacobian", "grad", "hessian", "hvp", "differential", "explain", "Jacobian"],
    "Evaluating and compiling": ["evaluate", "check", "compile", "codegen", "paths", "configure", "clear_caches"],
    "In a training step": ["jax_function", "torch_function"],
    "Errors": ["EinsumgradError", "DerivativeError", "EinsumSyntaxError", "ExpressionSyntaxError", "ShapeError",
               "MemoryLimitError"],
}


def doctest_blocks(text: str) -> str:
    """``>>>`` sessions (up to a blank line) fenced as ``pycon`` blocks, outside blocks already fenced.

    >>> doctest_blocks("Add.\\n>>> 1 + 1\\n2\\n\\nDone.")
    'Add.\\n```pycon\\n>>> 1 + 1\\n2\\n```\\n\\nDone.'
    """
    out, fenced, session = [], False, None
    for line in text.split("\n"):
        if session is not None and not line.strip():
            out.append(session + "```")
            session = None
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and session is None and line.lstrip().startswith(">>>"):
            session = line[: len(line) - len(line.lstrip())]
            out.append(session + "```pycon")
        out.append(line)
    if session is not None:
        out.append(session + "```")
    return "\n".join(out)


class DocstringMarkdown(griffe.Extension):
    """Docstrings written for doctest and Sphinx, shown as Markdown."""

    def on_instance(self, *, obj, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = doctest_blocks(ROLE.sub(r"`\1`", obj.docstring.value))


def api_markdown() -> str:
    import einsumgrad as eg
    from einsumgrad.core import functions

    registered = set(functions.public())
    names = [n for n in eg.__all__ if n not in registered]
    placed = {n for group in SECTIONS.values() for n in group}
    sections = {**SECTIONS, "More": [n for n in names if n not in placed]}
    lines = []
    for title, group in sections.items():
        group = [n for n in group if n in names]
        if group:
            lines += [f"## {title}", ""]
            lines += [f"::: einsumgrad.{n}\n" for n in group]
    return "\n".join(lines)


def _gradient(name: str, f) -> str:
    """The gradient einsumgrad prints for ``name(x)`` (``name(X)`` for a matrix function), summed where the value
    is not a scalar; a dash for a function of two arguments."""
    import einsumgrad as eg

    if f.build is not None and len(inspect.signature(f.build).parameters) > 1 and f.kind == "elementwise":
        return "—"
    x = eg.tensor("X", 2) if f.kind == "matrix" else eg.tensor("x", 1)
    value = getattr(eg, name)(x)
    return f"`{eg.grad(value if value.ndim == 0 else eg.sum(value), x)}`"


def functions_markdown() -> str:
    from einsumgrad.core import functions

    rows = ["| function | kind | call | gradient, as einsumgrad prints it |", "| --- | --- | --- | --- |"]
    for name in functions.public():
        f = functions.REGISTRY[name]
        argument = "(X)" if f.kind == "matrix" else "(x)"
        call = f"{name}{inspect.signature(f.build) if f.build is not None else argument}"
        rows.append(f"| `eg.{name}` | {f.kind} | `{call}` | {_gradient(name, f).replace('|', '&#124;')} |")
    return "\n".join(rows)


def benchmarks_markdown(root) -> str:
    """The benchmark scripts (``benchmarks/*.py`` but the shared harness), each with its docstring's first line."""
    import ast

    rows = ["| script | what it measures |", "| --- | --- |"]
    for path in sorted((root / "benchmarks").glob("*.py")):
        if path.stem != "harness":
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
            rows.append(f"| `python benchmarks/{path.name}` | {doc.splitlines()[0] if doc else ''} |")
    return "\n".join(rows)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if "<!-- api -->" in markdown:
        markdown = markdown.replace("<!-- api -->", api_markdown())
    if "<!-- functions -->" in markdown:
        markdown = markdown.replace("<!-- functions -->", functions_markdown())
    if "<!-- benchmarks -->" in markdown:
        root = pathlib.Path(config.config_file_path).parent
        markdown = markdown.replace("<!-- benchmarks -->", benchmarks_markdown(root))
    return markdown
