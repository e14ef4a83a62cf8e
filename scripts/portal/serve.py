"""Serve the built site on the LAN: `make serve`, for a school without nginx.

Python's `http.server` with what it lacks:

- HTTP Range requests (videos seek), answered exactly: `bytes=0-0` is one byte, `bytes=-500` the
  last 500, a range past the end 416;
- a bound on open connections, each with a timeout: a connection is closed when it stays silent,
  and the one that has waited longest for its request is closed when a new visitor would exceed
  the bound, so idle connections (a slow phone, many open tabs, an attack) never take the site
  offline, as nginx drops idle keep-alive connections when it runs out;
- the site's own Chinese 404 page, and no directory listings.

Teachers' files under `r/<id>/files/` are sent with the type the allow-list in model.py gives
(anything else is published under a name sent as a download), with `X-Content-Type-Options:
nosniff` and a Content-Security-Policy that sandboxes them and allows no script, so no upload runs
as a page of the site. The README shows the same for nginx.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import logging
import logging.handlers
import mimetypes
import os
import re
import resource
import socket
import sys
import threading
import time
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from .model import CHARSET_SNIFF_BYTES, PUBLISHED_AS_IS, text_charset

SILENCE_SECONDS = 20  # a connection that sends nothing (or stops reading) for this long is closed
ATTACHMENT = re.compile(r"^/r/[^/]+/files/")
# Sandboxed: no script, no plugin, no form, an opaque origin; its own media and styles only.
ATTACHMENT_POLICY = "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'"
# Attachments a browser may show in a tab or a frame (the resource page frames PDFs); every other
# one is sent as a download.
SHOWN_INLINE = ("video/", "audio/", "image/", "application/pdf", "text/plain", "text/vtt")
TEXT_TYPES = ("text/plain", "text/csv")  # teachers' files whose charset is declared from their bytes
SITE_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".xml": "application/xml",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
    ".vtt": "text/vtt; charset=utf-8",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".pdf": "application/pdf",
    ".woff2": "font/woff2",
    ".gz": "application/gzip",
    ".ico": "image/x-icon",
}
ERROR_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>%(code)d</title></head>
<body><h1>%(code)d</h1><p>%(explain)s</p><p><a href="/">回到首页</a></p></body></html>
"""
CHINESE_ERRORS = {
    400: "请求格式不正确。",
    404: "页面不存在，请检查网址，或回到首页查找。",
    405: "不支持这种请求方式。",
    414: "网址太长。",
    416: "请求的范围超出了文件大小。",
    501: "不支持这种请求方式。",
}


class Unsatisfiable(ValueError):
    """A Range that selects nothing of the file: answered 416."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte positions a `Range` header asks of a file of `size` bytes;
    None to send the whole file (no header, or one this server ignores: malformed, another unit,
    or several ranges, which RFC 9110 lets a server answer whole). Raises Unsatisfiable."""
    if not header:
        return None
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if not match or match.group(1) == match.group(2) == "":
        return None
    first_text, last_text = match.groups()
    if first_text == "":  # a suffix: the last N bytes
        wanted = int(last_text)
        if wanted == 0 or size == 0:
            raise Unsatisfiable(header)
        return max(0, size - wanted), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else max(first, size - 1)
    if last < first:
        return None  # invalid: ignored, as RFC 9110 says
    if first >= size:
        raise Unsatisfiable(header)
    return first, min(last, size - 1)


def content_type(url_path: str, file_name: str) -> str:
    """What a file is sent as: a teacher's file by the allow-list (anything else as bytes to
    download), the site's own files by their extension."""
    suffix = os.path.splitext(file_name)[1].lower()
    if ATTACHMENT.match(url_path):
        return PUBLISHED_AS_IS.get(suffix, "application/octet-stream")
    return SITE_TYPES.get(suffix) or mimetypes.guess_type(file_name)[0] or "application/octet-stream"


def attachment_headers(url_path: str, ctype: str) -> list[tuple[str, str]]:
    """Extra headers for a teacher's file: sandboxed, and a download unless it is a type the
    browser shows itself (video, audio, image, PDF, plain text)."""
    if not ATTACHMENT.match(url_path):
        return []
    headers = [("Content-Security-Policy", ATTACHMENT_POLICY)]
    if not ctype.startswith(SHOWN_INLINE):
        headers.append(("Content-Disposition", "attachment"))
    return headers


def _logged(text: str) -> str:
    """A request's text as one field of one log line: quotes, line breaks (a folded header) and
    other control characters escaped, as nginx does, so no visitor can forge or split a line."""
    return _UNLOGGABLE.sub(lambda m: f"\\x{ord(m.group()):02X}", text.replace('"', "'"))


_UNLOGGABLE = re.compile(r"[\x00-\x1f\x7f\\]")


class SiteHandler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a page's assets come over one connection
    timeout = SILENCE_SECONDS
    error_message_format = ERROR_PAGE
    server: SiteServer
    span = (0, -1)  # the bytes of the open file to send, inclusive

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """One line in the Combined Log Format (what nginx writes by default), for usage statistics."""
        log = self.server.access_log
        if log is None:
            return
        status = getattr(code, "value", code)
        sent = self.span[1] - self.span[0] + 1 if status in (200, 206) and self.span[1] >= self.span[0] else "-"
        when = time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime())
        headers = getattr(self, "headers", None)  # not yet read when the request line is malformed
        agent = headers.get("User-Agent", "-") if headers else "-"
        referer = headers.get("Referer", "-") if headers else "-"
        request = getattr(self, "requestline", "")
        fields = (_logged(request), _logged(referer), _logged(agent))
        try:
            log.info('%s - - [%s] "%s" %s %s "%s" "%s"', self.client_address[0], when, fields[0], status, sent, fields[1], fields[2])
        except Exception:  # noqa: BLE001 - a full disk must not stop the site
            pass

    def end_headers(self) -> None:
        # Nothing the site sends may be sniffed into another type (an upload into a page).
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()

    def handle_one_request(self) -> None:
        self.span = (0, -1)  # nothing sent yet for this request (a kept-alive connection's last is not it)
        self.server.waiting(self.connection)
        super().handle_one_request()

    def parse_request(self) -> bool:
        parsed = super().parse_request()  # reads the headers: the request has arrived
        self.server.working(self.connection)
        return parsed

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # The status line keeps the standard English reason (it is Latin-1); the page says it in Chinese.
        super().send_error(code, None, CHINESE_ERRORS.get(code, "请求无法完成。"))

    def send_head(self) -> BinaryIO | None:  # type: ignore[override]
        parts = urlsplit(self.path)
        path = self.translate_path(self.path)
        if os.path.isdir(path):
            if not parts.path.endswith("/"):
                return self._redirect(parts._replace(path=parts.path + "/").geturl())
            path = os.path.join(path, "index.html")
        if not os.path.isfile(path):  # nor a folder without index.html, nor a FIFO
            return self.not_found()
        try:
            file = open(path, "rb")  # noqa: SIM115 - the caller copies and closes it
        except OSError:
            return self.not_found()
        try:
            # Typed and sandboxed by where the file is, however the address spells it (/./, /r/../).
            return self._send_file(file, "/" + Path(os.path.relpath(path, self.directory)).as_posix(), path)
        except BaseException:
            file.close()
            raise

    def _send_file(self, file: BinaryIO, url_path: str, path: str) -> BinaryIO | None:
        stat = os.fstat(file.fileno())
        if self._not_modified(stat.st_mtime):
            file.close()
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self.end_headers()
            return None
        modified = self.date_time_string(stat.st_mtime)
        if_range = self.headers.get("If-Range")
        try:
            span = byte_range(self.headers.get("Range"), stat.st_size) if if_range in (None, modified) else None
        except Unsatisfiable:
            file.close()
            self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            self.send_header("Content-Range", f"bytes */{stat.st_size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        ctype = content_type(url_path, path)
        if ATTACHMENT.match(url_path) and ctype in TEXT_TYPES:  # a teacher's text, in whatever Notepad saved
            try:
                charset = text_charset(os.pread(file.fileno(), CHARSET_SNIFF_BYTES, 0))
            except OSError:
                charset = None  # the browser guesses, as without this
            ctype += f"; charset={charset}" if charset else ""
        self.span = span or (0, stat.st_size - 1)
        self.send_response(HTTPStatus.PARTIAL_CONTENT if span else HTTPStatus.OK)
        self.send_header("Content-Type", ctype)
        if span:
            self.send_header("Content-Range", f"bytes {span[0]}-{span[1]}/{stat.st_size}")
        self.send_header("Content-Length", str(self.span[1] - self.span[0] + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Last-Modified", modified)
        if ctype.startswith("text/html"):  # pages are asked for again each visit: every view is counted, every update seen
            self.send_header("Cache-Control", "no-cache")
        for name, value in attachment_headers(url_path, ctype):
            self.send_header(name, value)
        self.end_headers()
        return file

    def copyfile(self, source: BinaryIO, outputfile: BinaryIO) -> None:  # type: ignore[override]
        first, last = self.span
        if last >= first:
            self.connection.sendfile(source, first, last - first + 1)

    def _not_modified(self, mtime: float) -> bool:
        since = self.headers.get("If-Modified-Since")
        if not since or "If-None-Match" in self.headers or "Range" in self.headers:
            return False
        try:
            when = email.utils.parsedate_to_datetime(since)
        except (TypeError, IndexError, OverflowError, ValueError):
            return False
        when = when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)
        return dt.datetime.fromtimestamp(int(mtime), dt.timezone.utc) <= when

    def _redirect(self, location: str) -> None:
        self.send_response(HTTPStatus.MOVED_PERMANENTLY)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def not_found(self) -> BinaryIO | None:
        """The site's own 404 page, with status 404; a short Chinese page if the site has none."""
        try:
            file = (Path(self.directory) / "404.html").open("rb")
        except OSError:
            self.send_error(HTTPStatus.NOT_FOUND)
            return None
        self.span = (0, os.fstat(file.fileno()).st_size - 1)
        self.send_response(HTTPStatus.NOT_FOUND)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(self.span[1] + 1))
        self.end_headers()
        return file


class SiteServer(ThreadingHTTPServer):
    """One thread per connection, at most `limit` connections. A new connection over the limit
    closes the one that has waited longest for its next request (or itself, when every other
    connection is busy answering one)."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: functools.partial[SiteHandler], limit: int, access_log: logging.Logger | None = None):
        self.limit = limit
        self.access_log = access_log
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._waiting: dict[socket.socket, None] = {}  # oldest first
        super().__init__(address, handler)

    def process_request(self, request: socket.socket, client_address: tuple[str, int]) -> None:  # type: ignore[override]
        with self._lock:
            self._open.add(request)
            self._waiting[request] = None
            for victim in list(self._waiting)[: max(0, len(self._open) - self.limit)]:
                self._drop(victim)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        with self._lock:
            self._open.discard(request)
            self._waiting.pop(request, None)
        super().shutdown_request(request)

    def handle_error(self, request: socket.socket, client_address: tuple[str, int]) -> None:  # type: ignore[override]
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # a visitor who left mid-answer (a video sought elsewhere): nothing to report
        super().handle_error(request, client_address)

    def waiting(self, connection: socket.socket) -> None:
        with self._lock:
            if connection in self._open:
                self._waiting[connection] = None

    def working(self, connection: socket.socket) -> None:
        with self._lock:
            self._waiting.pop(connection, None)

    def _drop(self, connection: socket.socket) -> None:
        """End a waiting connection: its thread reads the end of the stream and finishes."""
        self._open.discard(connection)
        self._waiting.pop(connection, None)
        try:
            connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def connection_limit() -> int:
    """As many connections as the process's file limit allows with room to spare: each holds a
    socket and, while answering, an open file."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(4, min(512, soft // 2 - 32))


def access_logger(folder: Path) -> logging.Logger:
    """`folder/access.log` in the Combined Log Format, a new file each midnight (the old one keeps
    its date: access.log.2024-03-12), a year of them kept."""
    folder.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger(f"portal.access.{folder}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    if not logger.handlers:
        handler = logging.handlers.TimedRotatingFileHandler(folder / "access.log", when="midnight", backupCount=400, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    return logger


def make_server(directory: Path, host: str, port: int, limit: int | None = None, logs: Path | None = None) -> SiteServer:
    """Serve `directory` (the `site` link: each request follows it, so a rebuild switches in at
    once); with `logs`, every answer is logged there for usage statistics."""
    handler = functools.partial(SiteHandler, directory=str(directory))
    return SiteServer((host, port), handler, limit or connection_limit(), access_logger(logs) if logs else None)


def started_line(host: str, port: int, lan: str) -> str:
    """What `make serve` says once the site is served: where to open it, here and on the LAN, for
    the address it listens on (a loopback address is this computer only)."""
    if host in ("", "0.0.0.0"):
        return f"资源平台已启动：本机打开 http://127.0.0.1:{port}/ ，校园网内其他电脑打开 http://{lan}:{port}/"
    if host == "localhost" or host.startswith("127."):
        here = "127.0.0.1" if host == "localhost" else host
        return f"资源平台已启动：本机打开 http://{here}:{port}/ （只在本机提供，校园网内其他电脑无法打开；要让它们打开，启动时不要设置 HOST）"
    return f"资源平台已启动：打开 http://{host}:{port}/"


# Private networks' far ends: the address this computer would send from to reach one is its own
# address on the campus network. Connecting a UDP socket only chooses a route; nothing is sent.
PRIVATE_PROBES = ("10.255.255.255", "172.31.255.255", "192.168.255.255")


def lan_address() -> str:
    """The host's own LAN address, to print for teachers; sends nothing."""
    found: list[str] = []
    for probe in PRIVATE_PROBES:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            try:
                udp.connect((probe, 9))
                found.append(str(udp.getsockname()[0]))
            except OSError:  # no route there
                continue
    try:  # the host name's addresses, where no route leads to a private network
        found += [str(info[4][0]) for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)]
    except OSError:
        pass
    return next((a for a in found if not a.startswith(("127.", "0."))), "本机IP")
