"""Every example in the documentation is einsumgrad's real output: each page's ``>>>`` examples run as doctests
and its ``$ einsumgrad …`` console lines run as commands, through ``docs/generate_questions.py --check`` (one
process a page, so the functions a page registers stay in it)."""
import importlib.util
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))
import generate_questions  # noqa: E402 - the docs' own script

PAGES = generate_questions.pages()


def check(*pages):
    return subprocess.run([sys.executable, str(ROOT / "docs" / "generate_questions.py"), "--check", *map(str, pages)],
                          capture_output=True, text=True, encoding="utf-8", timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_the_page_shows_real_output(page):
    missing = [m for m in generate_questions.requirements(page.read_text(encoding="utf-8"))
               if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{page.name} needs {', '.join(missing)}")
    done = check(page)
    assert done.returncode == 0, f"{page.name} shows other output than einsumgrad prints " \
                                 f"(run python docs/generate_questions.py):\n{done.stdout[-4000:]}{done.stderr[-2000:]}"


def test_the_pages_run_their_examples():
    """The four questions and the guide hold examples of both kinds; no page's Python goes unchecked."""
    text = {p: p.read_text(encoding="utf-8") for p in PAGES}
    assert all(re.search(r"^\$ einsumgrad ", text[p], re.M) for p in PAGES[:1])
    assert sum(t.count(">>> ") for t in text.values()) > 100
    for page, t in text.items():
        fences = re.findall(r"^```(\S*)$", t, re.M)[::2]  # the opening fences
        assert set(fences) <= {"pycon", "console", "bash", "text", ""}, f"{page.name}: {set(fences)}"
        for block in re.findall(r"^```pycon\n(.*?)^```$", t, re.S | re.M):
            assert block.startswith(">>> "), f"{page.name}: a pycon block that is not a doctest"
        for block in re.findall(r"^```console\n(.*?)^```$", t, re.S | re.M):
            assert block.startswith("$ einsumgrad "), f"{page.name}: a console block without a command"


@pytest.mark.slow
def test_a_wrong_output_fails(tmp_path):
    """The check can fail: a changed doctest output, and a changed command output, are each reported."""
    page = tmp_path / "page.md"
    page.write_text('```pycon\n>>> import einsumgrad as eg\n>>> print(eg.jacobian("ij,j->i", wrt=0, names="W,x")'
                    '.formula())\n∂y[i]/∂W[j,k] = δ[i,j] x[k]\n```\n\n```console\n$ einsumgrad jacobian "ij,j->i" '
                    '--names W,x\n∂y[i]/∂W[j,k] = δ[i,j] x[k]\n...\n```\n', encoding="utf-8")
    assert check(page).returncode == 0
    for right, wrong in (("= δ[i,j] x[k]\n```\n\n", "= x[k]\n```\n\n"), ("x[k]\n...", "x[j]\n...")):
        page.write_text(page.read_text(encoding="utf-8").replace(right, wrong, 1), encoding="utf-8")
        done = check(page)
        assert done.returncode == 1 and "+∂y[i]/∂W[j,k] = δ[i,j] x[k]" in done.stdout
        generate_questions.main([str(page)])  # regenerated: real output again
        assert check(page).returncode == 0


@pytest.mark.slow
def test_an_error_in_an_example_fails(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```pycon\n>>> import einsumgrad as eg\n>>> eg.tensor('x', -1)\n'x'\n```\n", encoding="utf-8")
    done = check(page)
    assert done.returncode != 0 and "ShapeError: tensor 'x': a rank cannot be negative" in done.stderr
