"""Optional scale-out over a Dask cluster (``dask.distributed``) of batched work.

A page that evaluates a batch of independent candidates (an evolution strategy's population)
can hand it to :class:`BatchFanOut`: without a scheduler address it simply calls the function
here; with one, it splits the batch into one part per worker, runs the parts as Dask tasks and
concatenates the results in order. The function must be a picklable top-level function (or a
``functools.partial`` of one) whose result is a pytree of arrays with the batch as axis 0, and
each row must depend only on its own input row (then the split does not change the result).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

DEFAULT_CONNECT_TIMEOUT_S = 5.0


def connect(address: str, timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S) -> Any:
    """A ``distributed.Client`` on the scheduler at ``address`` (e.g. ``tcp://10.0.0.5:8786``).

    Raises ``ValueError`` naming the address when no scheduler answers within ``timeout_s``.
    """
    from distributed import Client

    try:
        return Client(address, timeout=timeout_s, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ValueError(
            f"no Dask scheduler answered at {address!r} within {timeout_s:g} s ({exc}); give an "
            "address like tcp://host:8786, or leave it empty to run locally"
        ) from exc


def split_batch(batch: np.ndarray, n_parts: int) -> list[np.ndarray]:
    """``batch`` cut along axis 0 into at most ``n_parts`` non-empty, contiguous parts."""
    n_parts = max(1, min(int(n_parts), len(batch)))
    return [part for part in np.array_split(np.asarray(batch), n_parts) if len(part)]


def concatenate(results: list[Any]) -> Any:
    """Concatenate pytrees of arrays along axis 0 (inverse of :func:`split_batch`)."""
    return jax.tree.map(lambda *parts: np.concatenate([np.asarray(p) for p in parts]), *results)


class BatchFanOut:
    """Run ``fn(batch)`` here, or split over the workers of a Dask scheduler.

    ``address`` may change at any time (:meth:`set_address`); the client is (re)connected lazily
    on the next call, which may run on a worker thread. ``workers_used`` counts the Dask workers
    the last call used (0 = it ran locally).
    """

    def __init__(self, address: str = "", timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S) -> None:
        self._lock = threading.Lock()
        self._address = address.strip()
        self._client: Any = None
        self._timeout_s = timeout_s
        self.workers_used = 0

    @property
    def address(self) -> str:
        return self._address

    def set_address(self, address: str) -> None:
        """Use the scheduler at ``address`` from the next call on ("" = run locally)."""
        with self._lock:
            if address.strip() != self._address:
                self._close_client()
                self._address = address.strip()

    def __call__(self, fn: Callable[[np.ndarray], Any], batch: np.ndarray) -> Any:
        with self._lock:
            if not self._address:
                self.workers_used = 0
                return fn(batch)
            if self._client is None:
                self._client = connect(self._address, self._timeout_s)
            client = self._client
        n_workers = len(client.scheduler_info()["workers"])
        if n_workers == 0:
            raise ValueError(f"the Dask scheduler at {self._address!r} has no workers")
        parts = split_batch(batch, n_workers)
        futures = client.map(fn, parts, pure=False)
        results = client.gather(futures)
        self.workers_used = len(parts)
        return concatenate(results)

    def close(self) -> None:
        """Disconnect from the scheduler (the cluster keeps running)."""
        with self._lock:
            self._close_client()

    def _close_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
