"""Suite-wide set-up: JAX config, the repository root, and browser-test plumbing.

Fixtures: ``repo_root``, ``getkey`` (fresh deterministic PRNG keys), ``chromium_path``
(Debian's chromium; skip when missing, fail under ``CI=true``), ``panel_server`` (a live
``panel serve app`` for the session; yields ``http://127.0.0.1:<port>``) and ``app_url``
(``<panel_server>/app``).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # `from tests.helpers import ...` under any pytest runner
    sys.path.insert(0, str(REPO_ROOT))

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

from snnviz.core import enable_compilation_cache  # noqa: E402

enable_compilation_cache(REPO_ROOT / ".cache" / "jax")
# Implicit rank promotion hides shape bugs (a (n,) parameter silently broadcast against a
# (batch, n) state). The engine passes with it (checked on LIF/AdLIF/AdEx populations,
# CurrentInjection, Poisson inputs, diffrax and optax), so the whole suite runs with it.
jax.config.update("jax_numpy_rank_promotion", "raise")

SERVER_START_TIMEOUT_S = float(os.environ.get("SNNVIZ_SERVER_TIMEOUT", "180"))
CHROMIUM_HINT = "install Debian's chromium: sudo apt-get install chromium"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (the folder holding pyproject.toml)."""
    return REPO_ROOT


@pytest.fixture
def getkey() -> Callable[[], jax.Array]:
    """``getkey()`` returns a new PRNG key on each call, the same sequence in every test."""
    keys = iter(jax.random.split(jax.random.key(0), 1024))
    return lambda: next(keys)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium (``$SNNVIZ_CHROMIUM`` overrides). Missing: skip, or fail under CI."""
    path = os.environ.get("SNNVIZ_CHROMIUM", "/usr/bin/chromium")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        message = f"no chromium at {path}; {CHROMIUM_HINT} (or set SNNVIZ_CHROMIUM)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """Terminate the server and everything in its process group (started by us)."""
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


def _log_tail(path: Path, n_chars: int = 6000) -> str:
    text = path.read_text(errors="replace") if path.exists() else "(no log)"
    return text[-n_chars:]


@pytest.fixture(scope="session")
def panel_server(repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A ``panel serve app`` on a free port for the whole session; yields its base URL
    ``http://127.0.0.1:<port>`` (the gallery is at ``/app``, a page at ``/app?page=<slug>``).
    The server log is in the failure message if it does not come up."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("panel_server") / "server.log"
    cmd = [
        sys.executable,
        "-m",
        "panel",
        "serve",
        "app",
        "--address",
        "127.0.0.1",
        "--port",
        str(port),
        "--num-procs",
        "1",
        "--liveness",
        "--allow-websocket-origin",
        f"127.0.0.1:{port}",
        "--unused-session-lifetime",
        "5000",
        "--check-unused-sessions",
        "2000",
    ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=repo_root,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"panel serve exited with code {proc.returncode} before it was "
                    f"live; `{' '.join(cmd)}`\n--- server log ---\n{_log_tail(log_path)}"
                )
            try:
                with urllib.request.urlopen(f"{base}/liveness", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"panel serve not live on {base}/liveness after "
                    f"{SERVER_START_TIMEOUT_S:.0f} s\n--- server log ---\n"
                    f"{_log_tail(log_path)}"
                )
            time.sleep(0.2)
        yield base
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def app_url(panel_server: str) -> str:
    """The gallery URL of the session's server (append ``?page=<slug>`` for a page)."""
    return f"{panel_server}/app"
