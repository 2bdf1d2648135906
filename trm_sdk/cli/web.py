"""``trm web serve``: host a folder made by ``trm-export --format web`` on this machine.

Browsers refuse to compile WebAssembly served under the wrong MIME type and refuse ES modules from
``file://`` URLs, so the page needs a server; Python's own ``http.server`` is enough, with the types
set here rather than taken from the system's mime tables, which differ between machines. It binds to
127.0.0.1 by default: a page on localhost is a secure context, where the browser can check the model's
sha256, and nothing is exposed to the network unless ``--host`` asks for it.
"""

from __future__ import annotations

import functools
import http.server
import sys
from pathlib import Path
from typing import Any

import click

__all__ = ["MIME_TYPES", "make_server", "web"]

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


class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = MIME_TYPES
    verbose = False

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-cache")  # a rebuilt folder shows at the next reload
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        if self.verbose:
            super().log_message(format, *args)


def make_server(directory: Path, host: str = "127.0.0.1", port: int = 8000, verbose: bool = False) -> Any:
    """A threading HTTP server for ``directory`` (not yet serving); port 0 picks a free port."""
    handler = type("Handler", (_Handler,), {"verbose": verbose})
    return http.server.ThreadingHTTPServer((host, port), functools.partial(handler, directory=str(directory)))


@click.group()
def web() -> None:
    """The model in a web page: serve a folder made by trm-export --format web."""


@web.command(short_help="Serve a folder made by trm-export --format web.")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="0 picks a free port."
)
@click.option("-v", "--verbose", is_flag=True, help="Log every request to standard error.")
def serve(directory: Path, host: str, port: int, verbose: bool) -> None:
    """Serve DIRECTORY, a folder made by trm-export --format web, until Ctrl-C.

    Prints the page's address first. Add ?puzzle=<81 characters>&autosolve=1 to it to solve a puzzle on
    load (&views=N caps the views, &seed=S picks them).
    """
    if not (directory / "index.html").is_file():
        raise click.ClickException(
            f"{directory} holds no index.html: make the web folder first with "
            f"trm-export --format web --out {directory}"
        )
    try:
        server = make_server(directory, host, port, verbose)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    bound_host, bound_port = server.server_address[:2]
    click.echo(f"serving {directory} at http://{bound_host}:{bound_port}/ (Ctrl-C stops)")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
    finally:
        server.server_close()
