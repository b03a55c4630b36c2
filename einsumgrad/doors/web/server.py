"""``einsumgrad serve``: the teaching page on a local web server (Python's standard library only).

The server answers two requests and nothing else: ``GET /`` (the page, held in memory; ``HEAD /``
gives its headers) and
``POST /api/derive`` (JSON in, JSON out, see :mod:`.answer`); no path maps to a file. Each answer is
computed in a worker process that is killed when it runs past the time limit. By default it binds
127.0.0.1 and answers only requests addressed to this machine's loopback names (no DNS rebinding),
and only JSON bodies (no cross-site form posts). It listens beyond loopback (``host=""`` is every
interface) only when asked with ``public=True`` (``serve --public``), and then answers requests
addressed to an IP address or to the names given, never to another name. The page's
Content-Security-Policy lets it load nothing from anywhere, so it works offline and leaks nothing.
"""
from __future__ import annotations

import ipaddress
import json
import select
import socket
import subprocess
import sys
import threading
import webbrowser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

from ...core.errors import EinsumgradError
from ..question import message
from .answer import EXAMPLES, KINDS, LIMITS, read_request
from ...notation.fragments import STYLE

MAX_BODY = 16_384  # bytes in one request
LOOPBACK = ("127.0.0.1", "localhost", "::1")
EVERY_INTERFACE = ("", "0.0.0.0", "::")
POLICY = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
          "img-src data:; base-uri 'none'; form-action 'none'")


def page() -> bytes:
    """The page, with the shared style, the examples and the limits filled in."""
    examples = [e._asdict() for e in EXAMPLES]
    text = resources.files(__package__).joinpath("page.html").read_text(encoding="utf-8")
    return (text.replace("/*STYLE*/", STYLE)
            .replace("/*EXAMPLES*/null", json.dumps(examples, ensure_ascii=False).replace("</", "<\\/"))
            .replace("/*LIMITS*/null", json.dumps(LIMITS._asdict()))
            .replace("<!--KINDS-->", "".join(f'<option value="{k}">{k}</option>' for k in KINDS))).encode()


class Worker:
    """A warm worker process (:mod:`.worker`) that computes answers; killed and replaced when one takes too long."""

    def __init__(self, seconds: float):
        self.seconds, self.lock = seconds, threading.Lock()
        self.process = self._start()

    @staticmethod
    def _start() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "einsumgrad.doors.web.worker"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, encoding="utf-8")

    def answer(self, request) -> dict:
        with self.lock:  # one answer at a time: a teaching page, not a service
            if self.process.poll() is not None:
                self.process = self._start()
            stdin, stdout = self.process.stdin, self.process.stdout
            assert stdin is not None and stdout is not None  # both piped
            stdin.write(json.dumps(request) + "\n")
            stdin.flush()
            ready, _, _ = select.select([stdout], [], [], self.seconds)
            line = stdout.readline() if ready else ""
            if line:
                return json.loads(line)
            self.close()
            self.process = self._start()
            if not ready:
                return {"ok": False, "error": f"this took longer than the page's limit of {self.seconds:g} s per "
                        "request; try a smaller expression or smaller shapes"}
            return {"ok": False, "error": "the worker computing this answer stopped (out of memory?); "
                    "try a smaller expression or smaller shapes"}

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine's loopback interface only: ``localhost``, ``127.x.x.x``, ``::1``.

    >>> is_loopback("127.0.0.2"), is_loopback("::1"), is_loopback(""), is_loopback("0.0.0.0")
    (True, True, False, False)
    """
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_address(name: str) -> bool:
    """Whether ``name`` is an IP address, which no page elsewhere can point at another machine."""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1", port: int = 8000, seconds: float = LIMITS.seconds,
                 public: bool = False):
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise EinsumgradError(f"port {port!r}: a port is a whole number from 0 to 65535 (0: any free port)")
        if not isinstance(host, str):
            raise EinsumgradError(f"host {host!r}: give an address such as 127.0.0.1")
        self.loopback_only = is_loopback(host)
        if not (self.loopback_only or public):
            where = "listens on every network interface" if host in EVERY_INTERFACE else "is not a loopback address"
            raise EinsumgradError(f"host {host!r} {where}: other machines could reach the page; ask for that with "
                                  "--public (public=True), or leave --host out for 127.0.0.1")
        names = set(LOOPBACK) | {host}
        if not self.loopback_only:
            names.add(socket.gethostname())
        self.names = names - set(EVERY_INTERFACE)  # those a request's Host may give
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.page, self.worker = page(), None
        super().__init__((host, port), Handler)  # binds first: no worker starts for a port in use
        self.worker = Worker(seconds)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        assert isinstance(host, str)  # an address, as HTTPServer keeps it
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # every interface: this machine's is one
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"

    def answers(self, name: str) -> bool:
        """Whether a request whose Host is ``name`` is for this server: a loopback name; beyond loopback also
        an IP address or a name given. Never another name: a page elsewhere may point one here (DNS rebinding)."""
        return name in self.names or (not self.loopback_only and is_address(name))

    def server_close(self):
        super().server_close()
        if self.worker is not None:
            self.worker.close()


class Handler(BaseHTTPRequestHandler):
    server: Server
    server_version = "einsumgrad"

    def do_GET(self):
        if not self._addressed_here():
            return
        if self.path.split("?")[0] in ("/", "/index.html"):
            self._send(200, "text/html; charset=utf-8", self.server.page)
        else:
            self._send(404, "text/plain; charset=utf-8", b"not found: this server has one page, at /")

    def do_HEAD(self):
        """GET's status and headers (its Content-Length too), without the body (:meth:`_send`)."""
        self.do_GET()

    def do_POST(self):
        if not self._addressed_here():
            return
        if self.path != "/api/derive":
            return self._json(404, {"ok": False, "error": "not found"})
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            return self._json(415, {"ok": False, "error": "send the request as application/json"})
        length = self.headers.get("Content-Length", "")
        if not length.isdigit() or int(length) > MAX_BODY:
            return self._json(413, {"ok": False, "error": f"a request has at most {MAX_BODY:,} bytes"})
        try:
            request = json.loads(self.rfile.read(int(length)))
        except (ValueError, RecursionError):  # RecursionError: nested too deeply
            return self._json(400, {"ok": False, "error": "the request is not valid JSON"})
        try:
            read_request(request)  # every field's type and limits, before the worker sees it
        except EinsumgradError as err:
            return self._json(400, {"ok": False, "error": message(err)})
        self._json(200, self.server.worker.answer(request))

    def _addressed_here(self) -> bool:
        """Answer only requests for a name this server answers (:meth:`Server.answers`)."""
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]")
        if not self.server.answers(host):
            self._send(403, "text/plain; charset=utf-8", b"this server answers only requests to localhost"
                       if self.server.loopback_only else b"this server answers only requests to its addresses")
            return False
        return True

    def _json(self, status: int, reply: dict) -> None:
        self._send(status, "application/json", json.dumps(reply, ensure_ascii=False).encode())

    def _send(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", POLICY)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 - the standard library's name
        pass


def serve(host: str = "127.0.0.1", port: int = 8000, browser: bool = True, public: bool = False) -> None:
    """Serve the page until Ctrl-C; beyond loopback only if ``public`` (see :class:`Server`)."""
    try:
        server = Server(host, port, public=public)
    except OSError as err:
        raise EinsumgradError(f"cannot serve on {host}:{port}: {err.strerror or err}") from None
    where = f"bound to {host} only: other machines cannot reach it" if server.loopback_only else (
        f"bound to {'every network interface' if host in EVERY_INTERFACE else host}")
    print(f"einsumgrad: the teaching page is at {server.url} ({where}); Ctrl-C stops it", file=sys.stderr)
    if not server.loopback_only:
        print("einsumgrad: warning: other machines on your network can reach this page and make it compute; it "
              "answers requests addressed to an IP address or to " + ", ".join(sorted(server.names)), file=sys.stderr)
    if browser:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
