"""What a page shows of EventProp: one sample's forward spikes and backward adjoint events, a
finite-difference gradient check, and the bits read out per gradient (spike times vs
membrane samples)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .adjoint import adjoint_trace, layer_adjoint
from .lif_events import membrane_potential
from .loss import ttfs_cross_entropy
from .network import EventNetwork, Weights

LAYER_INPUT, LAYER_HIDDEN, LAYER_OUTPUT = 0, 1, 2


def _sample_loss(net, input_times, label, tau_0, alpha, tau_1):
    def loss(weights: Weights) -> jax.Array:
        spikes = net(weights, input_times)
        return ttfs_cross_entropy(spikes.readout, label, tau_0=tau_0, alpha=alpha, tau_1=tau_1)

    return loss


def _events(times: np.ndarray, layer: int, extra: dict[str, np.ndarray] | None = None):
    neuron, slot = np.nonzero(np.isfinite(times))
    out = {"time": times[neuron, slot], "neuron": neuron, "layer": np.full(neuron.size, layer)}
    for name, values in (extra or {}).items():
        out[name] = values[neuron, slot]
    return out


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    keys = parts[0].keys()
    merged = {k: np.concatenate([p[k] for p in parts]) for k in keys}
    order = np.argsort(merged["time"], kind="stable")
    return {k: v[order] for k, v in merged.items()}


@eqx.filter_jit
def _sample_arrays(weights, net, input_times, label, t, tau_0, alpha, tau_1):
    neuron = net.neuron
    spikes = net(weights, input_times)
    loss_fn = _sample_loss(net, input_times, label, tau_0, alpha, tau_1)
    loss, grads = jax.value_and_grad(loss_fn)(weights)

    def readout_loss(first):
        readout = jnp.where(jnp.isfinite(first), first, neuron.t_max)
        return ttfs_cross_entropy(readout, label, tau_0=tau_0, alpha=alpha, tau_1=tau_1)

    grad_out = jax.grad(readout_loss)(spikes.output_first)
    first = spikes.output_first[:, None]
    adj_out = layer_adjoint(weights.output, spikes.hidden, neuron, first, grad_out[:, None])
    adj_hid = layer_adjoint(
        weights.hidden, input_times[:, None], neuron, spikes.hidden, adj_out.grad_pre_times
    )
    v_hid, _ = membrane_potential(weights.hidden, input_times[:, None], spikes.hidden, neuron, t)
    v_out, _ = membrane_potential(weights.output, spikes.hidden, first, neuron, t)
    lv_h, li_h = adjoint_trace(spikes.hidden, adj_hid.jump, neuron, t)
    lv_o, li_o = adjoint_trace(first, adj_out.jump, neuron, t)
    return {
        "spikes": spikes,
        "loss": loss,
        "grad": grads,
        "grad_out": grad_out,
        "adj_out": adj_out,
        "adj_hid": adj_hid,
        "v_hidden": v_hid,
        "v_output": v_out,
        "lv_h": lv_h,
        "li_h": li_h,
        "lv_o": lv_o,
        "li_o": li_o,
    }


def sample_events(
    weights: Weights,
    net: EventNetwork,
    input_times: jax.Array,
    label: int,
    *,
    tau_0: float,
    alpha: float = 0.0,
    tau_1: float = 1.0,
    n_grid: int = 400,
) -> dict:
    """Forward spikes, backward adjoint events and traces of one sample (numpy, for plots).

    Returns a dict with ``"forward"``: arrays ``time``, ``neuron``, ``layer`` (0 input,
    1 hidden, 2 output; outputs: first spike only) sorted by time; ``"adjoint"``: one row per
    hidden/output spike with ``time``, ``neuron``, ``layer``, ``grad_time`` (``dL/dt_k``),
    ``lambda_v_before`` / ``lambda_v_after`` / ``jump`` / ``lambda_i`` in the paper's
    convention (``λ_V = -∂L/∂V / τ_m``, ``λ_I = -∂L/∂I / τ_s``; ``before``/``after`` in
    forward time); ``"t"`` (n_grid,) and traces ``v_hidden``, ``v_output``,
    ``lambda_v_hidden``, ``lambda_i_hidden``, ``lambda_v_output``, ``lambda_i_output``
    (n_grid, n); ``"loss"``; ``"grad"`` (:class:`Weights` of numpy arrays, from EventProp).
    """
    neuron = net.neuron
    input_times = jnp.asarray(input_times, weights.hidden.dtype)
    t = jnp.linspace(0.0, float(neuron.t_max), n_grid, dtype=weights.hidden.dtype)
    hyper = (jnp.asarray(v, t.dtype) for v in (tau_0, alpha, tau_1))
    arrays = _sample_arrays(weights, net, input_times, jnp.asarray(label), t, *hyper)
    arrays = jax.tree_util.tree_map(np.asarray, arrays)
    spikes, adj_out, adj_hid = arrays["spikes"], arrays["adj_out"], arrays["adj_hid"]
    grad_out = arrays["grad_out"]
    first = spikes.output_first[:, None]
    tau_m, tau_s = 2.0 * float(neuron.tau_syn), float(neuron.tau_syn)

    def adjoint_rows(times, adj, grad_t, layer):
        after = np.asarray(adj.lambda_v_after)
        jump = np.asarray(adj.jump)
        extra = {
            "grad_time": np.asarray(grad_t),
            "lambda_v_after": -after / tau_m,
            "lambda_v_before": -(after + jump) / tau_m,
            "jump": -jump / tau_m,
            "lambda_i": -np.asarray(adj.lambda_i_at_spikes) / tau_s,
        }
        return _events(np.asarray(times), layer, extra)

    forward = _concat(
        [
            _events(np.asarray(input_times)[:, None], LAYER_INPUT),
            _events(np.asarray(spikes.hidden), LAYER_HIDDEN),
            _events(np.asarray(first), LAYER_OUTPUT),
        ]
    )
    adjoint = _concat(
        [
            adjoint_rows(spikes.hidden, adj_hid, adj_out.grad_pre_times, LAYER_HIDDEN),
            adjoint_rows(first, adj_out, grad_out[:, None], LAYER_OUTPUT),
        ]
    )
    return {
        "forward": forward,
        "adjoint": adjoint,
        "t": np.asarray(t),
        "v_hidden": arrays["v_hidden"],
        "v_output": arrays["v_output"],
        "lambda_v_hidden": -arrays["lv_h"] / tau_m,
        "lambda_i_hidden": -arrays["li_h"] / tau_s,
        "lambda_v_output": -arrays["lv_o"] / tau_m,
        "lambda_i_output": -arrays["li_o"] / tau_s,
        "loss": float(arrays["loss"]),
        "grad": arrays["grad"],
    }


def _spike_pattern(net: EventNetwork, weights: Weights, input_times: jax.Array) -> jax.Array:
    """Which spikes exist (hidden slots, cap flags, outputs): a change means FD is invalid."""
    s = net(weights, input_times)
    return jnp.concatenate(
        [jnp.isfinite(s.hidden).ravel(), s.hidden_cap_hit, jnp.isfinite(s.output_first)]
    )


@eqx.filter_jit
def _grads_and_pattern(ep_net, ad_net, weights, input_times, label, tau_0, alpha, tau_1):
    loss_ep = _sample_loss(ep_net, input_times, label, tau_0, alpha, tau_1)
    loss_ad = _sample_loss(ad_net, input_times, label, tau_0, alpha, tau_1)
    loss, g_ep = jax.value_and_grad(loss_ep)(weights)
    g_ad = jax.grad(loss_ad)(weights)
    return loss, g_ep, g_ad, _spike_pattern(ep_net, weights, input_times)


@eqx.filter_jit
def _perturbed(net, template, flat_batch, input_times, label, tau_0, alpha, tau_1):
    """Loss and spike pattern for each row of ``flat_batch`` (weights raveled like
    ``template``)."""
    loss_fn = _sample_loss(net, input_times, label, tau_0, alpha, tau_1)
    split = template.hidden.size

    def evaluate(flat):
        w = Weights(
            flat[:split].reshape(template.hidden.shape),
            flat[split:].reshape(template.output.shape),
        )
        return loss_fn(w), _spike_pattern(net, w, input_times)

    return jax.vmap(evaluate)(flat_batch)


def gradient_check(
    weights: Weights,
    net: EventNetwork,
    input_times: jax.Array,
    label: int,
    n_weights: int | None = 20,
    *,
    tau_0: float,
    alpha: float = 0.0,
    tau_1: float = 1.0,
    eps_rel: float = 1e-6,
    seed: int = 0,
) -> dict:
    """EventProp gradient of one sample's loss vs float64 central finite differences.

    Everything runs in float64. ``n_weights`` weights are drawn (seeded) among those with a
    non-zero EventProp gradient (all weights if ``None``); each is perturbed by
    ``±eps = eps_rel * rms(weights of its layer)``. A weight whose perturbation creates or
    deletes a spike (the loss is discontinuous there) is skipped. Relative error:
    ``|g - fd| / max(|g|, |fd|, 1e-8 max|g|)``. Also reports EventProp vs plain autodiff
    through the exact spike times (``method="autodiff"``) over all weights.

    Returns numpy arrays ``layer`` (0 hidden, 1 output), ``row``, ``col``, ``eventprop``,
    ``finite_difference``, ``relative_error`` (NaN where skipped), ``skipped``, and scalars
    ``max_relative_error``, ``median_relative_error``, ``fraction_skipped``,
    ``max_relative_error_vs_autodiff``, ``loss``.
    """
    with jax.enable_x64(True):
        w64 = Weights(*(jnp.asarray(np.asarray(w), jnp.float64) for w in weights))
        x64 = jnp.asarray(np.asarray(input_times), jnp.float64)
        ep_net = EventNetwork(net.neuron, net.max_spikes_hidden, "eventprop")
        ad_net = EventNetwork(net.neuron, net.max_spikes_hidden, "autodiff")
        loss_hyper = (jnp.asarray(v, jnp.float64) for v in (tau_0, alpha, tau_1))
        hyper = (jnp.asarray(label, jnp.int32), *loss_hyper)
        loss, g_ep, g_ad, ref_pattern = _grads_and_pattern(ep_net, ad_net, w64, x64, *hyper)
        flat_g = np.concatenate([np.asarray(g).ravel() for g in g_ep])
        flat_ad = np.concatenate([np.asarray(g).ravel() for g in g_ad])
        shapes = [w.shape for w in w64]
        sizes = [int(np.prod(s)) for s in shapes]
        layer_of = np.repeat(np.arange(2), sizes)
        local = np.concatenate([np.arange(n) for n in sizes])
        scale = np.array([np.sqrt(np.mean(np.asarray(w) ** 2)) for w in w64])
        eps = eps_rel * np.maximum(scale[layer_of], 1e-12)

        candidates = np.arange(flat_g.size)
        if n_weights is not None:
            rng = np.random.default_rng(seed)
            nonzero = candidates[flat_g != 0]
            pool = nonzero if nonzero.size >= n_weights else candidates
            candidates = np.sort(rng.choice(pool, size=min(n_weights, pool.size), replace=False))

        base = np.concatenate([np.asarray(w).ravel() for w in w64])
        deltas = np.zeros((2 * candidates.size, base.size))
        deltas[np.arange(candidates.size), candidates] = eps[candidates]
        deltas[candidates.size + np.arange(candidates.size), candidates] = -eps[candidates]
        values, patterns = _perturbed(ep_net, w64, jnp.asarray(base + deltas), x64, *hyper)
        values, patterns = np.asarray(values), np.asarray(patterns)
        ref_pattern = np.asarray(ref_pattern)
        n = candidates.size
        skipped = ~(np.all(patterns[:n] == ref_pattern, axis=1)) | ~(
            np.all(patterns[n:] == ref_pattern, axis=1)
        )
        fd = (values[:n] - values[n:]) / (2.0 * eps[candidates])
        g = flat_g[candidates]
        floor = 1e-8 * max(np.max(np.abs(flat_g)), 1e-300)
        rel = np.abs(g - fd) / np.maximum(np.maximum(np.abs(g), np.abs(fd)), floor)
        rel = np.where(skipped, np.nan, rel)
        vs_ad = np.abs(flat_g - flat_ad) / np.maximum(
            np.maximum(np.abs(flat_g), np.abs(flat_ad)), floor
        )
        checked = rel[~skipped]
        return {
            "layer": layer_of[candidates],
            "row": local[candidates] // np.array([s[1] for s in shapes])[layer_of[candidates]],
            "col": local[candidates] % np.array([s[1] for s in shapes])[layer_of[candidates]],
            "eventprop": g,
            "finite_difference": np.where(skipped, np.nan, fd),
            "relative_error": rel,
            "skipped": skipped,
            "max_relative_error": float(checked.max()) if checked.size else float("nan"),
            "median_relative_error": float(np.median(checked)) if checked.size else float("nan"),
            "fraction_skipped": float(skipped.mean()) if n else 0.0,
            "max_relative_error_vs_autodiff": float(vs_ad.max()),
            "loss": float(loss),
        }


def readout_bits(
    n_spikes: float,
    n_steps: int,
    n_neurons: int,
    *,
    spike_bits: int = 16,
    sample_bits: int = 8,
) -> dict[str, float]:
    """Bits read out per sample for a gradient (Pehle et al. 2023, PAPERS.md 3.5).

    EventProp needs only the spike times: ``n_spikes * spike_bits`` (a 16-bit time stamp
    each). A surrogate-gradient estimate needs the dense membrane record: ``n_steps *
    n_neurons * sample_bits`` (8-bit samples). Returns both and their ratio.
    """
    event = float(n_spikes) * spike_bits
    dense = float(n_steps) * n_neurons * sample_bits
    return {"event_bits": event, "dense_bits": dense, "dense_over_event": dense / event}


@eqx.filter_jit
def _spike_counts(weights: Weights, net: EventNetwork, input_times: jax.Array) -> jax.Array:
    spikes = jax.vmap(net, in_axes=(None, 0))(weights, input_times)
    hidden = jnp.isfinite(spikes.hidden).sum(axis=(1, 2))
    return hidden + jnp.isfinite(spikes.output_first).sum(axis=1)


def readout_bits_for(
    weights: Weights, net: EventNetwork, input_times: jax.Array, dt: float
) -> dict[str, float]:
    """:func:`readout_bits` for the network on a batch ``input_times`` (B, n_in): mean hidden
    plus output (first) spikes per sample vs ``t_max / dt`` membrane samples of every hidden
    and output neuron."""
    spikes = jax.vmap(net, in_axes=(None, 0))(weights, input_times)
    n_spikes = jnp.isfinite(spikes.hidden).sum(axis=(1, 2)) + jnp.isfinite(spikes.output_first).sum(
        axis=1
    )
    n_neurons = weights.hidden.shape[0] + weights.output.shape[0]
    n_steps = round(float(net.neuron.t_max) / dt)
    result = readout_bits(float(jnp.mean(n_spikes)), n_steps, n_neurons)
    result.update(mean_spikes=float(jnp.mean(n_spikes)), n_steps=n_steps, n_neurons=n_neurons)
    return result
