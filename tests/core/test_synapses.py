"""Connectivity builders and event-driven propagation.

Properties: fixed fan-in is exact, repeat-free, autapse-free and unbiased; every derived table
(dense matrix, packed rows, fan-out lists) describes the same synapses with the right E/I signs;
the event-driven paths equal the dense path ``W @ s`` for any spike pattern, including bursts
that overflow a batch (several batches) and no spikes at all.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snnviz.core.synapses import (
    active_indices,
    adjacency_rows,
    dense_input,
    dense_weights,
    ei_fan_in,
    ei_presyn_weights,
    fan_out_lists,
    fixed_fan_in,
    for_each_active,
    lists_input,
    packed_rows,
    packed_width,
    rows_input,
)

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)


@SETTINGS
@given(
    n_pre=st.integers(1, 60),
    n_post=st.integers(1, 40),
    frac=st.floats(0.0, 1.0),
    autapses=st.booleans(),
    offset=st.integers(-5, 40),
    seed=st.integers(0, 2**31 - 1),
)
def test_fixed_fan_in_is_exact_distinct_and_autapse_free(
    n_pre, n_post, frac, autapses, offset, seed
):
    self_in_pre = (np.arange(n_post) - offset >= 0) & (np.arange(n_post) - offset < n_pre)
    n_allowed = n_pre - (0 if autapses else int(self_in_pre.any()))
    fan_in = round(frac * n_allowed)
    pre = fixed_fan_in(
        jax.random.key(seed), n_pre, n_post, fan_in, autapses=autapses, pre_offset=offset
    )
    assert pre.shape == (n_post, fan_in) and pre.dtype == np.int32
    if fan_in:
        assert pre.min() >= 0 and pre.max() < n_pre
        assert np.all(np.diff(pre, axis=1) > 0)  # sorted and without repeats
    if not autapses:
        own = np.arange(n_post) - offset
        assert not np.any(pre == own[:, None])


def test_fixed_fan_in_is_deterministic_per_key_and_unbiased():
    key = jax.random.key(3)
    a = fixed_fan_in(key, 400, 2000, 40)
    np.testing.assert_array_equal(a, fixed_fan_in(key, 400, 2000, 40))
    assert not np.array_equal(a, fixed_fan_in(jax.random.key(4), 400, 2000, 40))
    # every presynaptic neuron is equally likely: its out-degree is Binomial(2000, 40/400)
    out_degree = np.bincount(a.ravel(), minlength=400)
    p = 40 / 400
    assert abs(out_degree.mean() - 2000 * p) < 1e-9  # exact: the total is fixed
    assert out_degree.var() == pytest.approx(2000 * p * (1 - p), rel=0.25)
    # ... and the smallest of a row's 40 distinct draws from 0..399 has mean (400 - 40) / 41
    assert a[:, 0].mean() == pytest.approx(360 / 41, rel=0.05)


def test_dense_regime_fixed_fan_in_without_autapses():
    pre = fixed_fan_in(jax.random.key(0), 30, 30, 29, autapses=False)  # all but itself
    expected = np.array([np.delete(np.arange(30), i) for i in range(30)])
    np.testing.assert_array_equal(pre, expected)


def test_fixed_fan_in_errors_name_the_problem():
    with pytest.raises(ValueError, match="exceeds the 9 allowed"):
        fixed_fan_in(jax.random.key(0), 10, 10, 10, autapses=False)
    with pytest.raises(ValueError, match="non-negative integer"):
        fixed_fan_in(jax.random.key(0), 10, 10, -1)


def test_ei_tables_agree_and_have_the_right_signs():
    n_exc, n_inh, c_exc, c_inh = 80, 20, 8, 2
    pre = ei_fan_in(jax.random.key(1), n_exc, n_inh, c_exc, c_inh)
    n = n_exc + n_inh
    assert pre.shape == (n, c_exc + c_inh)
    assert np.all(pre[:, :c_exc] < n_exc) and np.all(pre[:, c_exc:] >= n_exc)
    assert not np.any(pre == np.arange(n)[:, None])  # no autapses (recurrent default)

    j, g = 0.1, 5.0
    w = dense_weights(pre, n, ei_presyn_weights(n_exc, n_inh, j, g))
    assert np.all(np.isin(w[:, :n_exc], [0.0, np.float32(j)]))
    assert np.all(np.isin(w[:, n_exc:], [0.0, np.float32(-g * j)]))
    np.testing.assert_array_equal((w[:, :n_exc] > 0).sum(1), c_exc)  # exact fan-in per kind
    np.testing.assert_array_equal((w[:, n_exc:] < 0).sum(1), c_inh)
    np.testing.assert_allclose(w.sum(1), j * (c_exc - g * c_inh), rtol=1e-5)

    adjacency = adjacency_rows(pre, n)
    np.testing.assert_array_equal(adjacency.T, (w != 0).astype(np.uint8))

    fan_out = fan_out_lists(pre, n)
    assert fan_out.counts.sum() == pre.size
    for jj in range(n):
        k = fan_out.counts[jj]
        targets = fan_out.targets[jj, :k]
        np.testing.assert_array_equal(np.sort(targets), np.nonzero(adjacency[jj])[0])
        assert np.all(fan_out.targets[jj, k:] == n) and np.all(fan_out.synapse[jj, k:] == -1)
        np.testing.assert_array_equal(pre.ravel()[fan_out.synapse[jj, :k]], jj)


def test_packed_rows_unpack_to_the_adjacency():
    pre = ei_fan_in(jax.random.key(2), 37, 10, 5, 3)  # n_post = 47: not a multiple of 8
    n = 47
    packed = packed_rows(pre, n, block=5)  # several build blocks
    assert packed.shape == (n, packed_width(n)) and packed.dtype == np.uint8
    half = packed_width(n)
    nibbles = np.concatenate([packed & 15, packed >> 4], axis=1)  # word w -> posts 4w..4w+3
    bits = (nibbles[:, :, None] >> np.arange(4)) & 1
    np.testing.assert_array_equal(bits.reshape(n, 8 * half)[:, :n], adjacency_rows(pre, n))


def test_tables_reject_repeated_partners():
    repeated = np.array([[0, 0], [1, 2]])
    with pytest.raises(ValueError, match="repeats a presynaptic partner"):
        adjacency_rows(repeated, 3)
    with pytest.raises(ValueError, match="repeats a presynaptic partner"):
        packed_rows(repeated, 3)


@SETTINGS
@given(
    density=st.sampled_from([0.0, 0.01, 0.2, 0.6, 1.0]),
    start=st.integers(0, 70),
    seed=st.integers(0, 2**31 - 1),
)
def test_active_indices_match_numpy(density, start, seed):
    mask = np.random.default_rng(seed).random(150) < density
    idx, total = jax.jit(active_indices, static_argnums=1)(jnp.asarray(mask), 24, start=start)
    expected = np.nonzero(mask)[0][start : start + 24]
    assert int(total) == mask.sum()
    np.testing.assert_array_equal(np.asarray(idx)[: expected.size], expected)
    assert np.all(np.asarray(idx)[expected.size :] == 150)


N_EXC, N_INH = 96, 24
N = N_EXC + N_INH


@pytest.fixture(scope="module")
def network_tables():
    pre = ei_fan_in(jax.random.key(5), N_EXC, N_INH, 12, 3)
    return {
        "pre": pre,
        "packed": jnp.asarray(packed_rows(pre, N)),
        "targets": jnp.asarray(fan_out_lists(pre, N).targets),
    }


@pytest.mark.parametrize("n_spikes", [0, 1, 7, 8, 9, 40, N])  # batch of 8: below, at, above
def test_event_paths_equal_the_dense_path(network_tables, n_spikes):
    j, g = 0.1, 4.5
    w = dense_weights(network_tables["pre"], N, ei_presyn_weights(N_EXC, N_INH, j, g))
    spikes = np.zeros(N, bool)
    spikes[np.random.default_rng(n_spikes).choice(N, n_spikes, replace=False)] = True
    reference = w.astype(np.float64) @ spikes

    dense = jax.jit(dense_input)(jnp.asarray(w), jnp.asarray(spikes))
    rows = jax.jit(
        lambda s, sc: rows_input(
            network_tables["packed"], s, N, (0, N_EXC), sc, batch_size=8, block=4
        )
    )(jnp.asarray(spikes), jnp.array([j, -g * j]))
    presyn = jnp.asarray(ei_presyn_weights(N_EXC, N_INH, j, g))
    lists = jax.jit(
        lambda s, a: lists_input(
            network_tables["targets"], s, N, presyn_scale=a, batch_size=8, block=4
        )
    )(jnp.asarray(spikes), presyn)
    for got in (dense, rows, lists):
        np.testing.assert_allclose(np.asarray(got), reference, rtol=1e-5, atol=1e-5)


def test_rows_path_with_many_groups_and_one_group(network_tables):
    pre, packed = network_tables["pre"], network_tables["packed"]
    spikes = np.random.default_rng(0).random(N) < 0.3
    starts, scales = (0, 30, 96, 100), np.array([1.0, -2.0, 0.5, 3.0], np.float32)
    presyn = np.repeat(scales, np.diff([*starts, N]))
    expected = dense_weights(pre, N, presyn) @ spikes
    got = rows_input(
        packed, jnp.asarray(spikes), N, starts, jnp.asarray(scales), batch_size=16, block=8
    )
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5, atol=1e-5)
    got = rows_input(packed, jnp.asarray(spikes), N, (0,), jnp.ones(1), batch_size=16)
    np.testing.assert_allclose(np.asarray(got), dense_weights(pre, N) @ spikes)


def test_for_each_active_visits_every_active_index_once_in_order():
    mask = np.random.default_rng(1).random(300) < 0.4  # ~120 active: many batches of 16

    def body(ids, valid, carry):
        seen, count = carry
        order = count + jnp.cumsum(valid) - 1
        seen = seen.at[jnp.where(valid, order, 300)].set(ids, mode="drop")
        return seen, count + jnp.sum(valid)

    seen, count = jax.jit(
        lambda m: for_each_active(
            m, body, (jnp.full(300, -1), jnp.int32(0)), block=4, batch_size=16
        )
    )(jnp.asarray(mask))
    assert int(count) == mask.sum()
    np.testing.assert_array_equal(np.asarray(seen)[: mask.sum()], np.nonzero(mask)[0])


def test_propagation_arguments_are_checked(network_tables):
    packed, spikes = network_tables["packed"], jnp.zeros(N, bool)
    with pytest.raises(ValueError, match="group_starts"):
        rows_input(packed, spikes, N, (5, 96), jnp.ones(2))
    with pytest.raises(ValueError, match="multiple of `block`"):
        rows_input(packed, spikes, N, (0,), jnp.ones(1), batch_size=10, block=4)
    with pytest.raises(ValueError, match="packed_rows"):
        rows_input(packed, spikes, N + 9, (0,), jnp.ones(1))
    with pytest.raises(ValueError, match="one scale per group"):
        rows_input(packed, spikes, N, (0, 96), jnp.ones(3))
