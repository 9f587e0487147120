"""Start and stop ``panel serve app``: the one command line and process handling shared by
``snnviz serve``, the test suite's server fixture, the browser benchmarks and the screenshot
script. Servers bind 127.0.0.1 unless told otherwise and are always stopped (process group).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .warmup import WARM_UP_DONE

REPO_ROOT = Path(__file__).resolve().parent.parent
APP_DIR = REPO_ROOT / "app"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_command(
    port: int = 5006,
    address: str = "127.0.0.1",
    *,
    liveness: bool = False,
    show: bool = False,
    extra_args: Sequence[str] = (),
    app_dir: str | os.PathLike = APP_DIR,
) -> list[str]:
    """The ``panel serve app`` command line: one process, websocket origins for the address,
    closed sessions reaped within ~5 s (they stop simulating), optional ``/liveness``.
    ``app_dir`` serves another Bokeh directory app (benchmarks: a trivial app as the floor)."""
    if address == "0.0.0.0":  # reachable under any host name: accept any origin
        origins = ["*"]
    else:
        origins = [f"{address}:{port}"] + ([f"localhost:{port}"] if address == "127.0.0.1" else [])
    cmd = [
        sys.executable,
        "-m",
        "panel",
        "serve",
        str(app_dir),
        "--address",
        address,
        "--port",
        str(port),
        "--num-procs",
        "1",
        "--unused-session-lifetime",
        "5000",
        "--check-unused-sessions",
        "2000",
    ]
    for origin in origins:
        cmd += ["--allow-websocket-origin", origin]
    if liveness:
        cmd.append("--liveness")
    if show:
        cmd.append("--show")
    return [*cmd, *extra_args]


@dataclasses.dataclass
class Server:
    """A running ``panel serve app``: ``base`` is ``http://127.0.0.1:<port>``."""

    proc: subprocess.Popen
    port: int
    log_path: Path
    started: float  # time.perf_counter() just before the process was spawned
    live_s: float  # seconds from spawn until /liveness answered

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def app_url(self) -> str:
        return f"{self.base}/app"

    def wait_for_warm_up(self, timeout_s: float = 900.0) -> None:
        """Block until the server has warmed every page (its log says so): timed checks then
        see a warmed server, not one compiling every page beside them. Raises
        :class:`ServerError` after ``timeout_s`` or if the server exits."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if WARM_UP_DONE in self.log_path.read_text(errors="replace"):
                return
            if self.proc.poll() is not None:
                raise ServerError(f"panel serve exited during warm-up\n{self.log_tail()}")
            time.sleep(0.5)
        raise ServerError(f"page warm-up not done after {timeout_s:.0f} s\n{self.log_tail()}")

    def page_url(self, slug: str, **query: Any) -> str:
        """``/app?page=<slug>&k=v...``."""
        args = "".join(f"&{k}={v}" for k, v in query.items())
        return f"{self.app_url}?page={slug}{args}"

    def log_tail(self, n_chars: int = 6000) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return self.log_path.read_text(errors="replace")[-n_chars:]


class ServerError(RuntimeError):
    """The server exited or did not become live; the message holds the log's tail."""


def stop_process_group(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL, the process group that ``proc`` leads (started by us)."""
    for sig, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


@contextlib.contextmanager
def serve_app(
    *,
    log_path: Path | None = None,
    extra_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    timeout_s: float = 180.0,
    port: int | None = None,
    app_dir: str | os.PathLike = APP_DIR,
) -> Iterator[Server]:
    """Run ``panel serve app`` for the ``with`` block; stopped however the block ends.

    ``env`` entries are added to this process's environment; ``app_dir`` is the app served.
    Raises :class:`ServerError`
    (with the log's tail) if the server exits or is not live within ``timeout_s``.
    """
    port = port or free_port()
    if log_path is None:
        log_dir = REPO_ROOT / "test-artifacts" / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"panel-serve-{port}.log"
    cmd = serve_command(port, liveness=True, extra_args=extra_args, app_dir=app_dir)
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    try:
        server = Server(proc, port, log_path, started, live_s=float("nan"))
        deadline = started + timeout_s
        while True:
            if proc.poll() is not None:
                raise ServerError(
                    f"panel serve exited with code {proc.returncode} before it was live; "
                    f"`{' '.join(cmd)}`\n--- server log ---\n{server.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{server.base}/liveness", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.perf_counter() > deadline:
                raise ServerError(
                    f"panel serve not live on {server.base}/liveness after {timeout_s:.0f} s"
                    f"\n--- server log ---\n{server.log_tail()}"
                )
            time.sleep(0.05)
        server.live_s = time.perf_counter() - started
        yield server
    finally:
        stop_process_group(proc)
