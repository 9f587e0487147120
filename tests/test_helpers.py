"""Tests of the shared test helpers (tests/helpers.py)."""

import jax
import jax.numpy as jnp

from tests.helpers import count_compilations


def test_count_compilations_counts_new_shapes_only():
    @jax.jit
    def scaled_sum(x):
        return jnp.sum(2.0 * x + 1.0)

    with count_compilations() as first:
        scaled_sum(jnp.ones(3))
    assert first.matching("scaled_sum") == 1, first.names

    other_values = 7.0 * jnp.ones(3)  # (jnp.full(3, 7.0) would be weakly typed: a new trace)
    with count_compilations() as same_shape:
        scaled_sum(jnp.ones(3))
        scaled_sum(other_values)  # new values, same shape and dtype: no compile
    assert same_shape.matching("scaled_sum") == 0, same_shape.names

    with count_compilations() as new_shape:
        scaled_sum(jnp.ones(5))
    assert new_shape.matching("scaled_sum") == 1, new_shape.names


def test_count_compilations_stops_listening_after_the_block():
    with count_compilations() as log:
        pass
    jax.jit(lambda x: x - 3.0)(jnp.ones(2))
    assert log.count == 0


def test_count_compilations_counts_persistent_cache_hits():
    """A compile served from the persistent cache (enabled in conftest) still counts: the
    count must not depend on whether an earlier run left a cache entry."""
    hits = []

    def on_event(event, **kwargs):
        if event == "/jax/compilation_cache/cache_hits":
            hits.append(event)

    def make():
        return jax.jit(lambda x: jnp.tanh(x) * 0.25 + x)

    make()(jnp.ones(4))  # compiles (or hits an entry of an earlier run) and fills the cache
    jax.monitoring.register_event_listener(on_event)
    try:
        with count_compilations() as log:
            make()(jnp.ones(4))  # a new jit object: no in-memory hit, a persistent-cache hit
    finally:
        jax.monitoring.unregister_event_listener(on_event)
    assert hits, "the persistent compilation cache was not used"
    assert log.matching("lambda") == 1, log.names
