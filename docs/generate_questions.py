"""Regenerate (or check) the outputs shown in the documentation from real runs of einsumgrad.

Two kinds of example are run, page by page (the four questions first; every page under ``docs/`` but
``design.md``, and the README):

* a ```` ```console ```` block: each ``$ einsumgrad …`` line is run (split as a shell would, never through
  one), and the lines under it until the next ``$`` are its output, stdout and stderr as they interleave;
* every ``>>>`` example (in ```` ```pycon ```` blocks), run with :mod:`doctest`, one namespace a page.

An output already shown is kept where the real one matches it (``...`` stands for any text, as in doctest's
ELLIPSIS), so hand-shortened outputs stay short; anything else is replaced by what einsumgrad prints now.

    python docs/generate_questions.py            # rewrite the pages' outputs in place
    python docs/generate_questions.py --check    # exit 1, with a diff, where a page shows other output

``tests/test_docs_examples.py`` runs the check, so the pages cannot drift from the code.
"""
from __future__ import annotations

import argparse
import difflib
import doctest
import importlib.util
import os
import pathlib
import re
import shlex
import subprocess
import sys
import traceback

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FIRST = DOCS / "questions.md"
OPTIONS = doctest.ELLIPSIS
CONSOLE = re.compile(r"^```console\n(.*?)^```$", re.S | re.M)
REQUIRES = re.compile(r"<!-- doctest: requires ([\w ]+) -->")


def pages() -> list[pathlib.Path]:
    """The pages whose examples are run: the four questions, the other docs pages, the README."""
    others = sorted(p for p in DOCS.rglob("*.md") if p.name != "design.md" and p != FIRST)
    return [FIRST, *others, ROOT / "README.md"]


def requirements(text: str) -> list[str]:
    """The modules a page's examples need (``<!-- doctest: requires jax torch -->``)."""
    return [name for match in REQUIRES.finditer(text) for name in match.group(1).split()]


def run_command(command: str) -> str:
    """What ``$ einsumgrad …`` prints, stdout and stderr in the order they are written."""
    argv = shlex.split(command, comments=True)
    if not argv or argv[0] != "einsumgrad":
        raise SystemExit(f"only einsumgrad commands are run in the docs, not {command!r}")
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "PYTHONUNBUFFERED": "1", "COLUMNS": "100"}
    done = subprocess.run([sys.executable, "-m", "einsumgrad", *argv[1:]], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, env=env, cwd=ROOT,
                          timeout=300)
    return "\n".join(line.rstrip() for line in done.stdout.rstrip("\n").splitlines())


def _matches(want: str, got: str) -> bool:
    return doctest.OutputChecker().check_output(want + "\n", got + "\n", OPTIONS)


def _console_block(body: str) -> str:
    """A console block with each command's output made real (kept where the shown output still matches)."""
    out, command, shown = [], None, []

    def flush():
        if command is not None:
            want, got = "\n".join(shown), run_command(command)
            out.extend((want if want and _matches(want, got) else got).splitlines())

    for line in body.rstrip("\n").split("\n"):
        if line.startswith("$ "):
            flush()
            out.append(line)
            command, shown = line[2:], []
        else:
            shown.append(line)
    flush()
    return "\n".join(out) + "\n"


class _Recorder(doctest.DocTestRunner):
    """A doctest runner that keeps, for each example whose output differs, what it printed."""

    def __init__(self):
        super().__init__(optionflags=OPTIONS, verbose=False)
        self.got: dict[int, str] = {}

    def report_failure(self, out, test, example, got):
        self.got[example.lineno] = got

    def report_unexpected_exception(self, out, test, example, exc_info):
        """An error is an output where the page shows one, or where it shows nothing yet; else a broken page."""
        if example.want and not example.want.startswith("Traceback (most recent call last):"):
            raise exc_info[1].with_traceback(exc_info[2])
        last = traceback.format_exception_only(*exc_info[:2])[-1]
        self.got[example.lineno] = "Traceback (most recent call last):\n    ...\n" + last


def doctest_of(text: str, name: str) -> doctest.DocTest:
    """The page's ``>>>`` examples as one doctest; a code fence's line reads as a blank line, so that the
    fence closing a block is not taken as the last example's output (line numbers stay the page's)."""
    unfenced = "\n".join("" if line.lstrip().startswith("```") else line for line in text.split("\n"))
    return doctest.DocTestParser().get_doctest(unfenced, {"__name__": name}, name, name, 0)


def _doctests(text: str, name: str) -> str:
    """The page with every ``>>>`` example's output made real."""
    test = doctest_of(text, name)
    runner = _Recorder()
    runner.run(test, clear_globs=True)
    lines = text.split("\n")
    for example in sorted(test.examples, key=lambda e: -e.lineno):
        if example.lineno in runner.got:
            start = example.lineno + example.source.count("\n")
            got = [" " * example.indent + (line if line.strip() else doctest.BLANKLINE_MARKER)
                   for line in runner.got[example.lineno].rstrip("\n").split("\n")]
            lines[start:start + example.want.count("\n")] = got if runner.got[example.lineno] else []
    return "\n".join(lines)


def regenerate(path: pathlib.Path) -> str:
    """The page's text with real outputs."""
    text = path.read_text(encoding="utf-8")
    text = CONSOLE.sub(lambda m: "```console\n" + _console_block(m.group(1)) + "```", text)
    return _doctests(text, path.stem)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only report pages whose outputs differ")
    parser.add_argument("pages", nargs="*", type=pathlib.Path, help="pages (default: all)")
    args = parser.parse_args(argv)
    stale = 0
    for path in [p.resolve() for p in args.pages] or pages():
        needs = requirements(path.read_text(encoding="utf-8"))
        missing = [name for name in needs if importlib.util.find_spec(name) is None]
        if missing:
            print(f"skipped {path.name}: needs {', '.join(missing)}", file=sys.stderr)
            continue
        old, new = path.read_text(encoding="utf-8"), regenerate(path)
        if old == new:
            continue
        stale += 1
        if args.check:
            sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), new.splitlines(True), str(path),
                                                       f"{path} (real output)"))
        else:
            path.write_text(new, encoding="utf-8")
            print(f"updated {path}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
