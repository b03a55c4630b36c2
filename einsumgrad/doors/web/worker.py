"""The page's worker process: one JSON request per line on stdin, one JSON reply per line on stdout.

A separate interpreter (``python -m einsumgrad.doors.web.worker``), so that the server can kill an answer
that runs past its time limit, whatever ``__main__`` started the server.
"""
import json
import sys

from .answer import respond


def main() -> None:
    for line in sys.stdin:
        try:
            reply = respond(json.loads(line))
        except Exception as err:  # a bug: say so on the page, and keep serving
            reply = {"ok": False, "error": f"einsumgrad could not answer this ({type(err).__name__}: {err}); "
                     "this is a bug, please report it with the expression"}
        sys.stdout.write(json.dumps(reply, ensure_ascii=False) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
