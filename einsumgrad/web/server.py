"""``einsumgrad serve``: the teaching page on a local web server (Python's standard library only).

The server answers two requests and nothing else: ``GET /`` (the page, held in memory) and
``POST /api/derive`` (JSON in, JSON out, see :mod:`.answer`); no path maps to a file. Each answer is
computed in a worker process that is killed when it runs past the time limit. By default it binds
127.0.0.1 and answers only requests addressed to this machine's loopback names (no DNS rebinding),
and only JSON bodies (no cross-site form posts). The page's Content-Security-Policy lets it load
nothing from anywhere, so it works offline and leaks nothing.
"""
from __future__ import annotations

import json
import select
import subprocess
import sys
import threading
import webbrowser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

from ..errors import EinsumgradError
from .answer import EXAMPLES, KINDS, LIMITS, read_request
from .fragments import STYLE

MAX_BODY = 16_384  # bytes in one request
LOOPBACK = ("127.0.0.1", "localhost", "::1")
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
        return subprocess.Popen([sys.executable, "-m", "einsumgrad.web.worker"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, encoding="utf-8")

    def answer(self, request) -> dict:
        with self.lock:  # one answer at a time: a teaching page, not a service
            if self.process.poll() is not None:
                self.process = self._start()
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            ready, _, _ = select.select([self.process.stdout], [], [], self.seconds)
            line = self.process.stdout.readline() if ready else ""
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
            pipe.close()


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1", port: int = 8000, seconds: float = LIMITS.seconds):
        self.page, self.worker, self.loopback_only = page(), None, host in LOOPBACK
        super().__init__((host, port), Handler)  # binds first: no worker starts for a port in use
        self.worker = Worker(seconds)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"

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
            return self._json(400, {"ok": False, "error": str(err)})
        self._json(200, self.server.worker.answer(request))

    def _addressed_here(self) -> bool:
        """Bound to loopback, answer only requests for a loopback name (a page elsewhere cannot rebind one)."""
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]")
        if self.server.loopback_only and host not in LOOPBACK:
            self._send(403, "text/plain; charset=utf-8", b"this server answers only requests to localhost")
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
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 - the standard library's name
        pass


def serve(host: str = "127.0.0.1", port: int = 8000, browser: bool = True) -> None:
    """Serve the page until Ctrl-C."""
    try:
        server = Server(host, port)
    except OSError as err:
        raise EinsumgradError(f"cannot serve on {host}:{port}: {err.strerror or err}") from None
    where = ("bound to 127.0.0.1 only: other machines cannot reach it" if host == "127.0.0.1" else
             f"bound to {host}" + ("" if server.loopback_only else ": other machines on your network can reach it"))
    print(f"einsumgrad: the teaching page is at {server.url} ({where}); Ctrl-C stops it", file=sys.stderr)
    if browser:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
