"""Gain-cell attention kernel: the ideal limit against an independent float reference, leak and
window behaviour, the cell model's closed form, quantisation grids, seeded unbiased variation,
no recompilation for device sliders, and use inside the lead's Decoder."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnviz.core.attention.decoder import Decoder, causal_softmax_attention
from snnviz.core.attention.gaincell import (
    KV_LEVELS,
    OUT_LEVELS,
    Q_LEVELS,
    V_OFFSET,
    V_STORE_MAX,
    GainCellAttention,
    cell_gains,
    cell_normals,
    hardsigmoid,
    ideal_device,
    leak_factors,
    softmax_attention_weights,
    with_cells,
    with_device,
)
from tests.helpers import count_compilations

T, H, D = 10, 2, 4


def _qkv(seed: int = 0, scale: float = 0.4) -> tuple[jax.Array, jax.Array, jax.Array]:
    q, k, v = scale * jax.random.normal(jax.random.key(seed), (3, T, H, D))
    return q, k, v


def _mapped_kernel(**device) -> GainCellAttention:
    """A kernel with a non-trivial mapping (per-(head, dim) offsets); keywords override."""
    offsets = np.linspace(-0.05, 0.05, H * D, dtype=np.float32).reshape(H, D)
    fields = dict(
        q_scale=0.8, q_offset=0.5 + offsets, k_scale=0.6, k_offset=offsets, v_scale=0.5,
        v_offset=-offsets, s_sat=0.3, s_offset=0.1, out_scale=0.25, readout_gain=3.0,
    )  # fmt: skip
    return GainCellAttention(**{**fields, **device})


def _numpy_reference(kernel: GainCellAttention, q, k, v, window: int) -> np.ndarray:
    """HardSigmoid sliding-window attention written with loops in float64 (no device model)."""
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    qo, ko, vo = (np.broadcast_to(np.asarray(getattr(kernel, n)), (H, D))
                  for n in ("q_offset", "k_offset", "v_offset"))  # fmt: skip
    out = np.zeros_like(q)
    for h in range(H):
        for t in range(T):
            acc = np.zeros(D)
            for s in range(max(0, t - window + 1), t + 1):
                p = np.clip(float(kernel.q_scale) * q[t, h] + qo[h], 0, 1)
                kx = np.clip(V_OFFSET + float(kernel.k_scale) * k[s, h] + ko[h], 0, V_STORE_MAX)
                vx = np.clip(V_OFFSET + float(kernel.v_scale) * v[s, h] + vo[h], 0, V_STORE_MAX)
                score = float(np.dot(p, kx - V_OFFSET))
                phi = min(1.0, max(0.0, score / float(kernel.s_sat) + float(kernel.s_offset)))
                acc += phi * (vx - V_OFFSET)
            out[t, h] = float(kernel.readout_gain) * float(kernel.out_scale) * acc
    return out


@pytest.mark.parametrize("window", [1, 4, 100])
def test_ideal_limit_equals_float_hardsigmoid_reference(window: int) -> None:
    q, k, v = _qkv()
    kernel = _mapped_kernel(window=window)
    got = np.asarray(kernel(q, k, v))
    want = _numpy_reference(kernel, q, k, v, window)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # some weights are inside the linear range, some clipped: the reference is not trivial
    weights = np.asarray(kernel.trace(q, k, v).weights)
    assert np.any((weights > 0.05) & (weights < 0.95)) and np.any(weights == 0)


def test_ideal_device_switches_every_nonideality_off() -> None:
    q, k, v = _qkv(1)
    noisy = _mapped_kernel(window=4, tau_retention_ms=1.0, token_period_ms=0.3,
                           nonlinearity=0.8, variation=0.3, quantise=1, seed=5)  # fmt: skip
    np.testing.assert_allclose(
        np.asarray(ideal_device(noisy)(q, k, v)),
        _numpy_reference(noisy, q, k, v, 4),
        rtol=1e-5, atol=1e-6,
    )  # fmt: skip
    assert not np.allclose(noisy(q, k, v), ideal_device(noisy)(q, k, v), atol=1e-3)


def test_token_outside_window_has_no_influence() -> None:
    q, k, v = _qkv(2)
    window, s = 3, 4
    kernel = _mapped_kernel(window=window, nonlinearity=0.7, variation=0.2, tau_retention_ms=2.0,
                            token_period_ms=0.2)  # fmt: skip
    k2, v2 = k.at[s].add(0.5), v.at[s].add(-0.5)
    a, b = np.asarray(kernel(q, k, v)), np.asarray(kernel(q, k2, v2))
    np.testing.assert_array_equal(a[:s], b[:s])  # causal
    np.testing.assert_array_equal(a[s + window :], b[s + window :])  # left the window
    assert all(not np.allclose(a[t], b[t]) for t in range(s, s + window))  # inside: matters


def test_fully_decayed_token_has_no_influence() -> None:
    """tau << token period: the stored deviations of older tokens are gone (leak to V_off)."""
    q, k, v = _qkv(3)
    kernel = _mapped_kernel(window=100, tau_retention_ms=1e-3, token_period_ms=1.0,
                            nonlinearity=0.6, variation=0.2, seed=1)  # fmt: skip
    a = np.asarray(kernel(q, k, v))
    b = np.asarray(kernel(q, k.at[:-1].multiply(-2.0), v.at[:-1].add(0.7)))
    np.testing.assert_allclose(a[-1], b[-1], atol=1e-7)  # only the last token's own row counts


@pytest.mark.parametrize("v_rest", [V_OFFSET, 0.2])
def test_decay_matches_exponential(v_rest: float) -> None:
    """Linear cells: S_ts(leak) = sum_d p_td [(V_s - V_rest) exp(-(t-s) dt / tau) + V_rest - V_off]."""
    q, k, v = _qkv(4)
    tau, period = 2.0, 0.5
    base = _mapped_kernel(window=100)
    leaky = with_device(base, tau_retention_ms=tau, token_period_ms=period, v_rest=v_rest)
    tr = leaky.trace(q, k, v)
    p, vk = np.asarray(tr.pulses, np.float64), np.asarray(tr.k_voltage, np.float64)
    t_idx, s_idx = np.meshgrid(np.arange(T), np.arange(T), indexing="ij")
    decay = np.exp(-(t_idx - s_idx) * period / tau)
    want = (
        np.einsum("thd,shd->hts", p, vk - v_rest) * decay[None]
        + (v_rest - V_OFFSET) * (p.sum(-1).T[:, :, None])
    )
    want = np.where(s_idx <= t_idx, want, 0.0)
    np.testing.assert_allclose(np.asarray(tr.scores), want, rtol=1e-5, atol=1e-6)
    r = np.asarray(leak_factors(T, tau, period))
    np.testing.assert_allclose(r, np.where(s_idx <= t_idx, decay, 0.0), rtol=1e-6)


def test_nonlinear_cell_closed_form() -> None:
    """One cell, square law: S = p G g(x), g(x) = x + eta x^2 / (2 V_ov), x after the leak."""
    eta, v_ov, v_rest, tau, period = 0.7, 0.6, 0.3, 3.0, 1.0
    kernel = GainCellAttention(q_scale=1.0, q_offset=0.0, k_scale=1.0, window=10.0,
                               nonlinearity=eta, v_overdrive=v_ov, v_rest=v_rest,
                               tau_retention_ms=tau, token_period_ms=period, variation=0.25,
                               seed=7, cell_z=cell_normals(7, (1, 1), rows=4))  # fmt: skip
    q = jnp.array([0.3, 0.8, 0.5]).reshape(3, 1, 1)
    k = jnp.array([0.35, -0.2, 0.1]).reshape(3, 1, 1)
    scores = np.asarray(kernel.trace(q, k, k).scores)[0]
    gain = np.asarray(cell_gains(cell_normals(7, (1, 1), rows=4), 0.25))[0, :3, 0, 0]
    for t in range(3):
        for s in range(t + 1):
            written = V_OFFSET + float(k[s, 0, 0])
            x = v_rest + (written - v_rest) * np.exp(-(t - s) * period / tau) - V_OFFSET
            want = float(q[t, 0, 0]) * gain[s] * (x + eta * x**2 / (2 * v_ov))
            assert scores[t, s] == pytest.approx(want, rel=1e-5, abs=1e-7)


def test_quantisation_grids() -> None:
    q, k, v = _qkv(5, scale=1.0)
    tr = _mapped_kernel(window=6, quantise=1).trace(q, k, v)
    pulses = np.asarray(tr.pulses) * (Q_LEVELS - 1)
    np.testing.assert_allclose(pulses, np.round(pulses), atol=1e-4)
    assert np.round(pulses).min() >= 0 and np.round(pulses).max() <= Q_LEVELS - 1
    for volts in (tr.k_voltage, tr.v_voltage):
        steps = np.asarray(volts) * (KV_LEVELS - 1) / V_STORE_MAX
        np.testing.assert_allclose(steps, np.round(steps), atol=1e-4)
        assert np.round(steps).min() >= 0 and np.round(steps).max() <= KV_LEVELS - 1
    out_steps = (np.asarray(tr.charge) + 1.0) * (OUT_LEVELS - 1) / 2.0
    np.testing.assert_allclose(out_steps, np.round(out_steps), atol=1e-4)
    assert np.round(out_steps).min() >= 0 and np.round(out_steps).max() <= OUT_LEVELS - 1
    assert len(np.unique(np.round(pulses))) > 4  # really several levels in use
    # the analog kernel is off-grid
    analog = np.asarray(_mapped_kernel(window=6).trace(q, k, v).pulses) * (Q_LEVELS - 1)
    assert np.abs(analog - np.round(analog)).max() > 0.1


def test_variation_is_seeded_and_unbiased() -> None:
    z = cell_normals(3, (25, 20), rows=400)
    np.testing.assert_array_equal(z, cell_normals(3, (25, 20), rows=400))
    assert not np.allclose(z, cell_normals(4, (25, 20), rows=400))
    a = np.asarray(cell_gains(z, 0.3))
    assert a.min() > 0
    # E[G] = 1: the mean of 400k log-normal gains (sd of the mean ~ 5e-4)
    assert abs(a.mean() - 1.0) < 3e-3
    assert np.std(np.log(a)) == pytest.approx(0.3, rel=0.01)
    np.testing.assert_array_equal(np.asarray(cell_gains(z[:, :4, :2, :2], 0.0)), 1.0)
    # a new seed redraws the cells; the same seed keeps them
    kernel = with_cells(_mapped_kernel(window=5, variation=0.2, seed=1), (H, D), rows=16)
    assert with_device(kernel, seed=1).cell_z is kernel.cell_z
    np.testing.assert_array_equal(
        np.asarray(with_device(kernel, seed=2).cell_z), cell_normals(2, (H, D), rows=16)
    )
    # the kernel's mean output over many chips approaches the variation-free output (linear)
    q, k, v = _qkv(6)
    base = _mapped_kernel(window=5, s_offset=0.5, s_sat=50.0)  # HardSigmoid kept linear
    chips = np.stack([cell_normals(s, (H, D), rows=T) for s in range(1000)])
    run = jax.jit(jax.vmap(lambda z: with_device(base, variation=0.2, cell_z=z)(q, k, v)))
    mean_out = np.asarray(run(jnp.asarray(chips))).mean(0)
    clean = np.asarray(base(q, k, v))
    assert np.abs(mean_out - clean).max() < 0.05 * np.abs(clean).max()


def test_circular_buffer_rows_reuse_cells() -> None:
    """Token s is written into row s mod W: tokens W apart share the same cells (same gain)."""
    kernel = GainCellAttention(q_scale=1.0, q_offset=0.0, window=3.0, variation=0.3, seed=2)
    q = jnp.ones((7, 1, 1))
    k = jnp.full((7, 1, 1), 0.2)
    scores = np.asarray(kernel.trace(q, k, k).scores)[0]
    diagonal = np.diag(scores)  # token t reading its own row t mod 3
    np.testing.assert_allclose(diagonal[:4], diagonal[3:7], rtol=1e-6)
    assert len(np.unique(np.round(diagonal[:3], 6))) == 3


def test_hardsigmoid_shape() -> None:
    s = jnp.array([-1.0, 0.0, 0.5, 1.0, 2.0])
    np.testing.assert_allclose(hardsigmoid(s, 1.0), [0, 0, 0.5, 1, 1])
    np.testing.assert_allclose(hardsigmoid(s, 2.0, 0.25), [0, 0.25, 0.5, 0.75, 1])


def test_softmax_weights_match_the_decoder_reference() -> None:
    q, k, v = _qkv(7)
    for window in (3, 100):
        w = softmax_attention_weights(q, k, float(window))
        np.testing.assert_allclose(np.asarray(w.sum(-1)), 1.0, rtol=1e-6)
        out = jnp.einsum("hts,shd->thd", w, v)
        ref = causal_softmax_attention(q, k, v, window=window)
        np.testing.assert_allclose(np.asarray(out), np.asarray(ref), rtol=1e-5, atol=1e-6)


def test_device_sliders_do_not_recompile() -> None:
    q, k, v = _qkv(8)
    call = eqx.filter_jit(lambda kernel: kernel(q, k, v))
    kernel = with_cells(_mapped_kernel(window=4.0), (H, D), rows=16)
    call(kernel).block_until_ready()
    with count_compilations() as log:
        for device in (
            {"window": 7.0}, {"tau_retention_ms": 3.0, "token_period_ms": 0.1},
            {"variation": 0.2, "seed": 9}, {"nonlinearity": 0.9}, {"quantise": 1},
            {"v_rest": 0.1},
        ):  # fmt: skip
            call(with_device(kernel, **device)).block_until_ready()
    assert log.matching("lambda") == 0, log.names


def test_gradients_flow_through_quantisation() -> None:
    q, k, v = _qkv(9)
    kernel = _mapped_kernel(window=5, quantise=1, nonlinearity=0.5, variation=0.1)
    grads = eqx.filter_grad(lambda m: jnp.sum(m(q, k, v) ** 2))(kernel)
    for name in ("q_scale", "k_scale", "v_scale", "s_sat", "readout_gain"):
        value = float(getattr(grads, name))
        assert np.isfinite(value) and value != 0.0, name


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("s_sat", 0.0, "s_sat"),
        ("window", 0.5, "window"),
        ("tau_retention_ms", -1.0, "tau_retention_ms"),
        ("nonlinearity", 1.5, "nonlinearity"),
        ("variation", -0.1, "variation"),
        ("quantise", 0.5, "quantise"),
    ],
)
def test_bad_values_raise(field: str, value: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        GainCellAttention(**{field: value})


def test_with_device_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown device field"):
        with_device(GainCellAttention(), q_scale=2.0)


def test_runs_inside_the_decoder() -> None:
    model = Decoder(5, 5, d_model=16, n_heads=2, n_layers=2, max_len=32, key=jax.random.key(0))
    x = jax.nn.one_hot(jnp.arange(12) % 5, 5)
    kernels = [GainCellAttention(window=4, quantise=1, variation=0.1) for _ in range(2)]
    out, records = model(x, kernels, return_qkv=True)
    assert out.shape == (12, 5) and np.all(np.isfinite(np.asarray(out)))
    assert records[0][0].shape == (12, 2, 8)


# -- the character model, training and adaptation (tiny configuration) --------------------------
from snnviz.core.attention import adaptation as ad  # noqa: E402
from snnviz.core.attention import charlm as lm  # noqa: E402

TINY = lm.CharLMConfig(
    d_model=16, n_heads=2, n_layers=1, d_mlp=32, window=8, seq_len=16, batch=8,
    pretrain_steps=80, chunk=20, n_train_chars=6000, n_test_chars=2000, eval_windows=16,
)  # fmt: skip


@pytest.mark.slow
def test_training_lowers_perplexity_and_adaptation_fits_the_cells() -> None:
    untrained = lm.evaluate(lm.init_model(TINY), lm.ideal_kernels(TINY), TINY)
    assert untrained["perplexity"] > 10  # near-uniform over 28 characters
    pre = lm.pretrained(TINY)
    trained = lm.evaluate(pre.model, lm.ideal_kernels(TINY), TINY)
    assert trained["perplexity"] < 0.6 * untrained["perplexity"]
    assert pre.losses[-20:].mean() < pre.losses[:20].mean()
    assert lm.pretrained(TINY) is pre  # cached per configuration

    # calibration: the gain-cell layer explains more of the softmax layer's output than before
    raw = ad.DeviceSettings(window=8.0).kernels(1, (TINY.n_heads, TINY.d_head))
    ids = lm.corpus_for(TINY).windows("train", 8, TINY.seq_len, seed=3)[:, :-1]
    calibrated, info = ad.calibrate(pre.model, raw, ids, TINY.window)
    assert info[0]["relative_error"] < info[0]["relative_error_initial"]
    assert info[0]["relative_error"] < 0.9

    # fine-tuning trains the mapping and the weights, never the device
    tuned = lm.train(pre.model, calibrated, TINY, steps=40, learning_rate=1e-3, seed=1)
    kernel = tuned.kernels[0]
    assert float(kernel.s_sat) != float(calibrated[0].s_sat)
    for name in ("variation", "nonlinearity", "window", "tau_retention_ms", "seed"):
        np.testing.assert_array_equal(getattr(kernel, name), getattr(calibrated[0], name))
    before = lm.evaluate(pre.model, calibrated, TINY)["nll"]
    after = lm.evaluate(tuned.model, tuned.kernels, TINY)["nll"]
    assert after < before
