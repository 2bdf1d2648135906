"""``trm web serve``: host a folder made by ``trm-export --format web`` on this machine.

Browsers refuse to compile WebAssembly served under the wrong MIME type and refuse ES modules from
``file://`` URLs, so the page needs a server. This one is small and strict rather than general, because
it runs on people's own machines: it binds to loopback unless told otherwise (and warns then), serves
only a folder that ``build.json`` marks as a web build, answers only for files that resolve inside that
folder (no dotfiles, no listings, no symlinks out), checks the Host header so a DNS-rebinding page
cannot read it, times out idle connections and caps how many it holds. The MIME types are set here
rather than taken from the system's tables, which differ between machines.
"""

from __future__ import annotations

import http.server
import ipaddress
import json
import os
import socket
import stat
import sys
import threading
import urllib.parse
from pathlib import Path
from typing import Any

import click

from .common import EXIT_INTERRUPTED, InputError

__all__ = [
    "BUILD_FILE",
    "MAX_CONNECTIONS",
    "MIME_TYPES",
    "REQUEST_TIMEOUT_S",
    "is_loopback",
    "is_web_build",
    "make_server",
    "web",
]

BUILD_FILE = "build.json"  # written last by trm-export --format web; what marks a folder as servable
REQUEST_TIMEOUT_S = 10.0  # a connection silent this long is closed
MAX_CONNECTIONS = 32  # connections held at once (one thread each); more are closed at once

MIME_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".wasm": "application/wasm",
    ".onnx": "application/octet-stream",
    ".png": "image/png",
    "": "application/octet-stream",
}


def is_web_build(directory: Path) -> bool:
    """True for a folder whose ``build.json`` (a regular file, not a link) records a finished web build."""
    marker = directory / BUILD_FILE
    try:
        if not stat.S_ISREG(marker.lstat().st_mode):
            return False
        record = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("complete") is True and isinstance(record.get("task"), str)


def is_loopback(host: str) -> bool:
    """True when every address ``host`` names is a loopback address (127.0.0.0/8, ::1)."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    addresses = {str(info[4][0]).split("%")[0] for info in infos}
    return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)


def _host_name(header: str) -> str | None:
    """The name part of a Host header (``[::1]:8000`` -> ``::1``), lower-cased; None if malformed."""
    header = header.strip().lower()
    if header.startswith("["):  # an IPv6 literal, with or without a port
        end = header.find("]")
        rest = header[end + 1 :] if end > 0 else "?"
        if rest and not (rest.startswith(":") and rest[1:].isdigit()):
            return None
        return header[1:end]
    name, _, port = header.partition(":")
    if port and not port.isdigit():
        return None
    return name or None


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class _Handler(http.server.BaseHTTPRequestHandler):
    """GET and HEAD of regular files inside ``root``; everything else is a short error page."""

    root: Path  # resolved
    names: frozenset[str]  # Host header names accepted besides IP literals
    verbose = False
    timeout = REQUEST_TIMEOUT_S
    server_version = "trm-web"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        if self.verbose:
            super().log_message(format, *args)

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-cache")  # a rebuilt folder shows at the next reload
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        super().end_headers()

    def do_GET(self) -> None:
        self._send(body=True)

    def do_HEAD(self) -> None:
        self._send(body=False)

    def _host_ok(self) -> bool:
        # A DNS-rebinding page reaches this server under a name its attacker controls; names that are
        # IP literals cannot be rebound, and the other names are the ones the server was started with.
        name = _host_name(self.headers.get("Host", ""))
        return name is not None and (_is_ip(name) or name in self.names)

    def _file(self) -> Path | None:
        """The file the request names, or None: every part must be a plain name (no dotfiles, no ..),
        and the resolved path must stay inside the root (no symlink out) and be a regular file."""
        try:
            raw = urllib.parse.urlsplit(self.path).path
            text = urllib.parse.unquote(raw, errors="strict")
        except (ValueError, UnicodeDecodeError):
            return None
        if "\x00" in text or "\\" in text or not text.startswith("/"):
            return None
        parts = [p for p in text.split("/") if p]
        if any(p.startswith(".") for p in parts):
            return None
        if text.endswith("/"):
            parts.append("index.html")  # a folder's page, never a listing
        try:
            path = self.root.joinpath(*parts).resolve(strict=True)
        except (OSError, RuntimeError, ValueError):
            return None
        if not path.is_relative_to(self.root) or not path.is_file():
            return None
        return path

    def _send(self, body: bool) -> None:
        if not self._host_ok():
            self.send_error(421, "Misdirected Request", "this server answers only for its own address")
            return
        path = self._file()
        if path is None:
            self.send_error(404, "Not Found")
            return
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                self.send_response(200)
                self.send_header("Content-Type", MIME_TYPES.get(path.suffix.lower(), MIME_TYPES[""]))
                self.send_header("Content-Length", str(size))
                self.end_headers()
                if body:
                    while chunk := f.read(1 << 16):
                        self.wfile.write(chunk)
        except OSError:
            self.close_connection = True  # the client left, or the file went away mid-way


class _Server(http.server.ThreadingHTTPServer):
    """One thread a connection, at most ``MAX_CONNECTIONS`` of them; errors are logged, never printed
    as tracebacks."""

    daemon_threads = True
    verbose = False

    def __init__(self, address: tuple[str, int], handler: type[_Handler], family: int) -> None:
        self.address_family = family
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)  # full: refuse rather than start one more thread
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.verbose:
            kind, exc = sys.exc_info()[:2]
            print(f"{client_address[0]}: {kind.__name__ if kind else 'error'}: {exc}", file=sys.stderr)


def make_server(directory: Path, host: str = "127.0.0.1", port: int = 8000, verbose: bool = False) -> Any:
    """A threading HTTP server for ``directory`` (not yet serving); port 0 picks a free port.

    IPv4 or IPv6 as ``host`` resolves. Checks nothing about the folder: :func:`serve` does that.
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _, _, _, address = infos[0]
    names = {"localhost", host.strip("[]").lower()}
    handler = type(
        "Handler", (_Handler,), {"root": directory.resolve(), "names": frozenset(names), "verbose": verbose}
    )
    server = _Server((str(address[0]), int(address[1])), handler, family)
    server.verbose = verbose
    return server


@click.group()
def web() -> None:
    """The model in a web page: serve a folder made by trm-export --format web."""


@web.command(short_help="Serve a folder made by trm-export --format web.")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (IPv4 or IPv6).")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="0 picks a free port."
)
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow a --host other machines can reach; the page is then served to your network.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log every request to standard error.")
def serve(directory: Path, host: str, port: int, allow_remote: bool, verbose: bool) -> None:
    """Serve DIRECTORY, a folder made by trm-export --format web, until Ctrl-C.

    Prints the page's address first. Add ?puzzle=<81 characters>&autosolve=1 to it to solve a puzzle on
    load (&views=N caps the views, &seed=S picks them).

    Exit status: 2 for a folder that is no web build or an address it cannot listen on, 130 on Ctrl-C.
    """
    if not is_web_build(directory):
        raise InputError(
            f"{directory} is not a folder made by trm-export --format web (it has no finished {BUILD_FILE}); "
            f"make it with: trm-export --format web --out {directory}"
        )
    if not is_loopback(host):
        if not allow_remote:
            raise InputError(
                f"--host {host} can be reached from other machines; add --allow-remote to serve there, "
                "or leave --host at 127.0.0.1"
            )
        click.echo(
            f"warning: serving to the network on {host}; anyone who reaches this address sees the page. "
            "Off localhost the browser may not offer WebCrypto, and the page then checks the model with "
            "its own SHA-256.",
            err=True,
        )
    try:
        server = make_server(directory, host, port, verbose)
    except (OSError, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise InputError(f"cannot listen on {host}:{port}: {reason}") from None
    bound_host, bound_port = server.server_address[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    click.echo(f"serving {directory} at http://{shown}:{bound_port}/ (Ctrl-C stops)")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
        sys.exit(EXIT_INTERRUPTED)
    finally:
        server.server_close()
