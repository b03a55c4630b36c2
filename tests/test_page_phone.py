"""Issue 21, item 12: the page on a phone. At 390 px wide the page fits (a formula or a table wider
than the screen scrolls inside its own box), for every example the page offers; screenshots at 1280
and 390 px are saved; ``HEAD /`` answers with GET's headers and no body.

The browser tests drive Chromium with Playwright and are skipped, with the reason, where either is missing.
"""
import http.client
import shutil
import threading

import pytest

from einsumgrad.doors.web.answer import EXAMPLES
from einsumgrad.doors.web.server import Server, page as page_bytes

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def server():
    s = Server("127.0.0.1", 0)
    threading.Thread(target=s.serve_forever, daemon=True).start()
    yield s
    s.shutdown()
    s.server_close()


def _request(server, method, path):
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.request(method, path, headers={"Host": f"127.0.0.1:{port}"})
    reply = conn.getresponse()
    body = reply.read()
    conn.close()
    return reply, body


def test_head_answers_with_the_pages_headers_and_no_body(server):
    reply, body = _request(server, "HEAD", "/")
    assert reply.status == 200 and body == b""
    assert reply.getheader("Content-Type") == "text/html; charset=utf-8"
    assert int(reply.getheader("Content-Length")) == len(page_bytes())
    assert reply.getheader("Content-Security-Policy", "").startswith("default-src 'none'")
    get, page = _request(server, "GET", "/")
    assert get.status == 200 and page == page_bytes()
    missing, body = _request(server, "HEAD", "/nothing-here")
    assert missing.status == 404 and body == b""


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="the browser tests need playwright")
    if CHROMIUM is None:
        pytest.skip("the browser tests need chromium: apt-get install -y chromium")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def _widths(browser, server, width, tmp_path):
    """The page's scroll width at ``width`` px before any answer and after each example, with a
    screenshot of each; the widest element's tag where one sticks out."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    tab = context.new_page()
    tab.goto(server.url)
    found = {"empty": tab.evaluate("document.documentElement.scrollWidth")}
    for k, example in enumerate(EXAMPLES):
        tab.evaluate("document.getElementById('result').innerHTML = ''")
        tab.select_option("#examples", str(k))
        tab.wait_for_selector("#result > *, #error:not(:empty)")
        assert tab.inner_text("#error") == "", (example.title, tab.inner_text("#error"))
        found[example.title] = tab.evaluate("document.documentElement.scrollWidth")
        tab.screenshot(path=str(tmp_path / f"page-{width}px-{k}.png"), full_page=True)
    context.close()
    return found


@pytest.mark.slow
def test_the_page_fits_a_phone_for_every_example(browser, server, tmp_path):
    widths = _widths(browser, server, 390, tmp_path)
    assert len(widths) == len(EXAMPLES) + 1
    assert all(w <= 390 for w in widths.values()), {k: w for k, w in widths.items() if w > 390}
    assert all((tmp_path / f"page-390px-{k}.png").stat().st_size > 0 for k in range(len(EXAMPLES)))


@pytest.mark.slow
def test_the_page_on_a_desktop_and_its_formulas_scroll_in_their_box_on_a_phone(browser, server, tmp_path):
    assert all(w <= 1280 for w in _widths(browser, server, 1280, tmp_path).values())
    context = browser.new_context(viewport={"width": 390, "height": 900})
    tab = context.new_page()
    tab.goto(server.url)
    tab.select_option("#examples", "3")  # the orthogonality loss: the widest formulas
    tab.wait_for_selector("#result > *")
    boxes = tab.evaluate("""() => [...document.querySelectorAll('#answer math[display="block"], #answer .eg-matrix')]
        .map(e => [e.scrollWidth, e.clientWidth, getComputedStyle(e).overflowX])""")
    wide = [b for b in boxes if b[0] > b[1]]
    assert wide, "no formula is wider than a phone: nothing here shows that it scrolls"
    assert all(overflow == "auto" for _, _, overflow in boxes)
    assert all(client <= 390 for _, client, _ in boxes)
    context.close()
