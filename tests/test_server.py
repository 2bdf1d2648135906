"""``trm web serve`` as an outsider would probe it (issue 37): what it serves, what it refuses, and how it
holds up. Every server here listens on a loopback address with an ephemeral port, every probe goes to it,
and each probe is bounded in time; the servers stop when their test ends."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from trm_sdk.cli import main as trm
from trm_sdk.cli import web as web_cli

TIMEOUT = 5.0  # seconds any one probe may take


def _web_build(folder: Path) -> Path:
    """A folder shaped like a ``trm-export --format web`` build, with traps beside it."""
    folder.mkdir(parents=True)
    (folder / "index.html").write_text("<p>page</p>", encoding="utf-8")
    (folder / "app.js").write_text("export {};", encoding="utf-8")
    (folder / "model").mkdir()
    (folder / "model" / "step.onnx").write_bytes(b"graph")
    (folder / "build.json").write_text(json.dumps({"complete": True, "task": "sudoku"}), encoding="utf-8")
    (folder / ".env").write_text("SECRET=1", encoding="utf-8")
    (folder / "empty").mkdir()
    outside = folder.parent / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret", encoding="utf-8")
    (folder / "link.txt").symlink_to(outside / "secret.txt")
    (folder / "linkdir").symlink_to(outside, target_is_directory=True)
    return folder


@contextmanager
def _server(folder: Path, host: str = "127.0.0.1") -> Iterator[tuple[str, int]]:
    server = web_cli.make_server(folder, host, 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield host, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=TIMEOUT)


def _get(
    address: tuple[str, int], path: str, host_header: str | None = None, method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    """One raw request (the path is sent exactly as given) and the status, headers and body."""
    host, port = address
    with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
        shown = f"[{host}]" if ":" in host else host
        header = f"Host: {host_header}\r\n" if host_header != "" else ""
        if host_header is None:
            header = f"Host: {shown}:{port}\r\n"
        sock.sendall(f"{method} {path} HTTP/1.1\r\n{header}Connection: close\r\n\r\n".encode("latin-1"))
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, int]]:
    with _server(_web_build(tmp_path / "site")) as address:
        yield address


def test_it_serves_the_build_with_the_types_browsers_insist_on(site: tuple[str, int]) -> None:
    for path, mime, body in (
        ("/", "text/html", b"<p>page</p>"),
        ("/index.html", "text/html", b"<p>page</p>"),
        ("/app.js", "text/javascript", b"export {};"),
        ("/model/step.onnx", "application/octet-stream", b"graph"),
        ("/model/step.onnx?v=2", "application/octet-stream", b"graph"),
    ):
        status, headers, got = _get(site, path)
        assert (status, headers["content-type"].split(";")[0], got) == (200, mime, body), path
        assert headers["x-content-type-options"] == "nosniff"
    for name in ("localhost", "127.0.0.1"):
        assert _get(site, "/", f"{name}:{site[1]}")[0] == 200
    status, headers, body = _get(site, "/app.js", method="HEAD")
    assert status == 200 and body == b"" and headers["content-length"] == "10"


# Each probe an outsider tried, and the status it must get: none of them reveals a byte it should not.
PROBES: list[tuple[str, str | None, str, int]] = [
    ("dotfile", None, "/.env", 404),
    ("dotfile, encoded", None, "/%2eenv", 404),
    ("listing of the root", None, "/empty/", 404),
    ("listing without slash", None, "/empty", 404),
    ("symlink to a file outside", None, "/link.txt", 404),
    ("symlink to a folder outside", None, "/linkdir/secret.txt", 404),
    ("parent, raw", None, "/../outside/secret.txt", 404),
    ("parent, encoded", None, "/%2e%2e/outside/secret.txt", 404),
    ("parent, encoded slash", None, "/..%2foutside%2fsecret.txt", 404),
    ("parent inside a path", None, "/model/../../outside/secret.txt", 404),
    ("NUL byte", None, "/%00", 404),
    ("NUL after a name", None, "/index.html%00.js", 404),
    ("backslash", None, "/..%5coutside%5csecret.txt", 404),
    ("bad percent-encoding", None, "/%ff%fe", 404),
    ("build record", None, "/build.json/x", 404),
    ("missing file", None, "/nothing.js", 404),
    ("rebinding name", "attacker.example", "/", 421),
    ("rebinding name with port", "attacker.example:8000", "/index.html", 421),
    ("no Host header", "", "/", 421),
    ("malformed Host", "[::1", "/", 421),
    ("Host with a bad port", "localhost:http", "/", 421),
]


@pytest.mark.parametrize(("what", "host", "path", "status"), PROBES, ids=[p[0] for p in PROBES])
def test_probes_are_refused(
    site: tuple[str, int], what: str, host: str | None, path: str, status: int
) -> None:
    got, _, body = _get(site, path, host)
    assert got == status, what
    assert b"secret" not in body and b"SECRET" not in body


def test_other_methods_are_refused(site: tuple[str, int]) -> None:
    for method in ("POST", "PUT", "DELETE", "OPTIONS"):
        assert _get(site, "/index.html", method=method)[0] == 501


def test_bad_requests_print_no_traceback(tmp_path: Path) -> None:
    """Run as the command runs, so whatever the server prints reaches the child's stderr."""
    folder = _web_build(tmp_path / "site")
    with _serve_child(folder) as (proc, address):
        for path in ("/%00", "/%ff", "/" + "a" * 70000, "/\x00"):
            try:
                _get(address, path)
            except (OSError, http.client.HTTPException):
                pass  # the server may close a request it cannot parse; what matters is what it prints
    assert "Traceback" not in proc.stderr_text


def test_idle_connections_time_out(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(web_cli._Handler, "timeout", 0.3)
    with _server(_web_build(tmp_path / "site")) as (host, port):
        with socket.create_connection((host, port), timeout=TIMEOUT) as idle:
            started = time.monotonic()
            assert idle.recv(1) == b""  # the server closed it
            assert time.monotonic() - started < 3


def test_connections_are_capped_and_the_extra_ones_closed(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(web_cli, "MAX_CONNECTIONS", 4)
    before = threading.active_count()
    with _server(_web_build(tmp_path / "site")) as (host, port):
        idle = [socket.create_connection((host, port), timeout=TIMEOUT) for _ in range(20)]
        try:
            time.sleep(0.3)
            assert threading.active_count() - before <= 1 + 4  # the serving thread and four handlers
            closed = 0
            for sock in idle[4:]:
                sock.settimeout(2)
                closed += sock.recv(1) == b""
            assert closed == 16
        finally:
            for sock in idle:
                sock.close()
        assert _get((host, port), "/")[0] == 200  # and it still serves once they are gone


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback here")
def test_ipv6_works(tmp_path: Path) -> None:
    with _server(_web_build(tmp_path / "site"), "::1") as address:
        assert _get(address, "/")[0] == 200
        assert _get(address, "/", f"[::1]:{address[1]}")[0] == 200
        assert _get(address, "/", "attacker.example")[0] == 421


# -- the command -------------------------------------------------------------------------------------------


class _Child:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.stderr_text = ""


@contextmanager
def _serve_child(folder: Path, *args: str) -> Iterator[tuple[_Child, tuple[str, int]]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "trm_sdk", "web", "serve", str(folder), "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    child = _Child(proc)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("serving "), line
        url = line.split(" at ")[1].split()[0]
        host, port = url.removeprefix("http://").rstrip("/").rsplit(":", 1)
        yield child, (host.strip("[]"), int(port))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            _, child.stderr_text = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, child.stderr_text = proc.communicate()


def test_ctrl_c_exits_130(tmp_path: Path) -> None:
    with _serve_child(_web_build(tmp_path / "site")) as (child, address):
        assert _get(address, "/")[0] == 200
        child.proc.send_signal(signal.SIGINT)
        assert child.proc.wait(timeout=TIMEOUT) == 130


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback here")
def test_the_command_listens_on_ipv6(tmp_path: Path) -> None:
    with _serve_child(_web_build(tmp_path / "site"), "--host", "::1") as (_, address):
        assert address[0] == "::1"
        assert _get(address, "/")[0] == 200


def _serve(*args: str) -> Any:
    return CliRunner().invoke(trm, ["web", "serve", *args])


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda d: None, id="empty folder"),
        pytest.param(lambda d: (d / "index.html").write_text("x"), id="index.html but no build.json"),
        pytest.param(lambda d: (d / "build.json").write_text('{"complete": false}'), id="unfinished build"),
        pytest.param(lambda d: (d / "build.json").write_text("not json"), id="build.json not json"),
        pytest.param(lambda d: (d / "build.json").mkdir(), id="build.json a folder"),
        pytest.param(
            lambda d: (d / "build.json").symlink_to(d.parent / "elsewhere.json"), id="build.json a link"
        ),
    ],
)
def test_only_web_builds_are_served(tmp_path: Path, make: Any) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    (tmp_path / "elsewhere.json").write_text(json.dumps({"complete": True, "task": "sudoku"}))
    make(folder)
    result = _serve(str(folder))
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "not a folder made by trm-export --format web" in result.output


def test_a_home_directory_is_not_served(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "index.html").write_text("x")
    assert _serve(str(Path.home())).exit_code == 2


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_a_reachable_host_needs_allow_remote(tmp_path: Path, host: str) -> None:
    result = _serve(str(_web_build(tmp_path / "site")), "--host", host)
    assert result.exit_code == 2 and "--allow-remote" in result.output


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_allow_remote_warns_and_binds_the_right_family(tmp_path: Path, monkeypatch: Any, host: str) -> None:
    """The server is built but never started: a test listens on loopback only."""
    made: dict[str, Any] = {}

    class Fake:
        server_address = (host, 8000)

        def serve_forever(self) -> None:
            raise KeyboardInterrupt

        def server_close(self) -> None:
            pass

    def fake_make_server(directory: Path, host: str, port: int, verbose: bool) -> Fake:
        made["family"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return Fake()

    monkeypatch.setattr(web_cli, "make_server", fake_make_server)
    result = _serve(str(_web_build(tmp_path / "site")), "--host", host, "--allow-remote")
    assert result.exit_code == 130
    assert "warning: serving to the network" in result.stderr
    assert made["family"] == (socket.AF_INET6 if ":" in host else socket.AF_INET)


def test_a_port_in_use_is_a_message(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = _serve(str(_web_build(tmp_path / "site")), "--port", str(taken.getsockname()[1]))
    assert result.exit_code == 2 and "cannot listen on 127.0.0.1" in result.output
    assert "Traceback" not in result.output


def test_loopback_names() -> None:
    assert (
        web_cli.is_loopback("127.0.0.1") and web_cli.is_loopback("::1") and web_cli.is_loopback("localhost")
    )
    assert not web_cli.is_loopback("0.0.0.0") and not web_cli.is_loopback("::")
    assert not web_cli.is_loopback("10.1.2.3")
