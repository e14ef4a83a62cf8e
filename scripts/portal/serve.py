"""Serve the built site on the LAN, answering HTTP Range requests so videos can be sought.

Python's `http.server` ignores Range; `RangeHTTPServer` (PyPI) adds it. For the school's server,
the README documents nginx, which does the same natively.
"""

from __future__ import annotations

import functools
import socket
from http.server import ThreadingHTTPServer
from pathlib import Path

from RangeHTTPServer import RangeRequestHandler


class QuietHandler(RangeRequestHandler):
    extensions_map = {
        **RangeRequestHandler.extensions_map,
        ".mp4": "video/mp4",
        ".webm": "video/webm",
        ".vtt": "text/vtt",
        ".txt": "text/plain; charset=utf-8",
        ".json": "application/json",
    }

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass

    def end_headers(self) -> None:
        # Teachers' files must never be sniffed into something executable.
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()


def make_server(directory: Path, host: str, port: int) -> ThreadingHTTPServer:
    handler = functools.partial(QuietHandler, directory=str(directory))
    return ThreadingHTTPServer((host, port), handler)


def lan_address() -> str:
    """The host's own LAN address as its name resolves, to print for teachers; sends nothing."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        infos = []
    addresses = [str(info[4][0]) for info in infos]
    return next((a for a in addresses if not a.startswith("127.")), "本机IP")
