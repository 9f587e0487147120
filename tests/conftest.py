"""Suite-wide set-up: JAX config, the repository root, and browser-test plumbing.

Fixtures: ``repo_root``, ``getkey`` (fresh deterministic PRNG keys), ``chromium_path``
(Debian's chromium; skip when missing, fail under ``CI=true``), ``panel_server`` (a live
``panel serve app`` for the session; yields ``http://127.0.0.1:<port>``) and ``app_url``
(``<panel_server>/app``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # `from tests.helpers import ...` under any pytest runner
    sys.path.insert(0, str(REPO_ROOT))

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

from snnviz.core import enable_compilation_cache  # noqa: E402
from snnviz.serving import ServerError, serve_app  # noqa: E402

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


@pytest.fixture(scope="session")
def panel_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A ``panel serve app`` on a free port for the whole session; yields its base URL
    ``http://127.0.0.1:<port>`` (the gallery is at ``/app``, a page at ``/app?page=<slug>``).
    The server log is in the failure message if it does not come up; it is always stopped."""
    log_path = tmp_path_factory.mktemp("panel_server") / "server.log"
    try:
        with serve_app(log_path=log_path, timeout_s=SERVER_START_TIMEOUT_S) as server:
            # timed browser checks must see a warmed server, not one compiling every page
            server.wait_for_warm_up()
            yield server.base
    except ServerError as err:  # pytest does not throw test failures into fixtures
        pytest.fail(str(err))


@pytest.fixture(scope="session")
def app_url(panel_server: str) -> str:
    """The gallery URL of the session's server (append ``?page=<slug>`` for a page)."""
    return f"{panel_server}/app"
