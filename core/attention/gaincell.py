r"""Sliding-window attention computed by analog gain-cell arrays (Leroux et al. 2025).

Leroux, Manea, Sudarshan, Finkbeiner, Siegel, Strachan & Neftci, *Analog in-memory computing
attention mechanism for fast and energy-efficient large language models*, Nat. Comput. Sci. 5,
813-824 (2025), doi:10.1038/s43588-025-00854-1 (arXiv:2409.19315).

Keys and values of every generated token are *written* as capacitor voltages into two gain-cell
arrays (one row per token, a circular buffer of ``window`` rows: sliding-window attention). A
query is applied as input *pulse widths*; each cell passes a current set by its stored voltage,
and the bit line integrates current x time = charge, so one read is a whole dot product. A
charge-to-pulse circuit turns the score charge into the pulse that drives the value array,
with a HardSigmoid transfer instead of softmax (no ADC between the two arrays). Per head,
with :math:`V_\mathrm{off} = V_{DD}/2 = 0.45` V the zero of the signed product:

.. math::

    p_{t} &= \mathrm{clip}(a_Q q_t + b_Q, 0, 1) \quad\text{(pulse width / } T_\mathrm{max},
            \text{ 16 levels)}\\
    V^K_s &= \mathrm{clip}(V_\mathrm{off} + a_K k_s + b_K, 0, 0.9\,\mathrm V)
            \quad\text{(written voltage, 8 levels; same for } V^V_s)\\
    x_{ts} &= V^K_s(t) - V_\mathrm{off}, \quad V^K_s(t) = V_\mathrm{rest}
            + (V^K_s - V_\mathrm{rest})\, e^{-(t-s)\Delta t / \tau_\mathrm{ret}}
            \quad\text{(capacitor leak)}\\
    S_{ts} &= \sum_d p_{td}\, G^K_{sd}\, g(x_{tsd}), \qquad
            g(x) = x + \eta\,\frac{x^2}{2 V_\mathrm{ov}} \quad\text{(cell current)}\\
    \phi_{ts} &= \mathrm{clip}(S_{ts} / S_\mathrm{sat} + c, 0, 1)
            \quad\text{for } t - W < s \le t \text{, else } 0
            \quad\text{(HardSigmoid, pulse of } \phi\,T_\mathrm{max})\\
    A_{td} &= \sum_s \phi_{ts}\, G^V_{sd}\, g(y_{tsd}), \qquad
            \mathrm{out}_t = \gamma\, \mathcal Q_{32}(\alpha A_t)
            \quad\text{(32 output levels in } [-1, 1])

Paper facts used here (checked against the published Methods text): the HardSigmoid
``phi(S) = T_max clip(S / S_sat, 0, 1)`` with ``T_max = 15 ns`` (eq. 3; the offset ``c`` is our
addition, 0 reproduces the paper); Q quantised to 16 levels in [0, 1], K and V to 8 levels in
[0, 0.9] V, the second dot product's outputs to 32 levels in [-1, 1]; the stored voltages are
signed around ``V_DD/2 = 0.45 V`` and read with ``V_in = 0.9 V`` (eq. 4). *Our model, not the
paper's:* the paper fits third-order polynomials ``C_ij`` to circuit simulations of its cell
(eq. 4; the fitted values are not reproduced here). We use a documented physical stand-in: the
read transistor in saturation, ``I ~ (V - V_th)^2``, read differentially against a reference at
``V_off``, gives ``I(V) - I(V_off) ~ x (x + 2 V_ov)`` with ``V_ov = V_off - V_th``, i.e.
``g(x) = x + x^2 / (2 V_ov)`` after normalisation; ``eta`` blends from a linear cell (0) to the
square law (1). The leak is an exponential relaxation of each stored voltage towards
``V_rest`` with time constant ``tau_ret`` (``V_rest = V_off`` makes a fully decayed token
contribute nothing); one token is written every ``token_period``. Device variation is a
per-cell multiplicative gain ``G = exp(sigma z - sigma^2 / 2)``, ``z ~ N(0, 1)`` (log-normal,
``E[G] = 1``), fixed per physical cell (row ``s mod W`` of the circular buffer) by a seed; the
draws ``z`` are precomputed outside the compiled code (:func:`with_cells`), so sigma is a
slider and the chip (seed) costs no recompilation either.

Because ``g`` is a polynomial and the leak factor ``r_ts = exp(-(t - s) dt / tau)`` is the same
for every column, both array reads reduce to three matrix products each (powers 0, 1, 2 of
``r``), so the kernel costs three times an ordinary attention and needs no (T, T, d) tensor.

Every device number is a traced array field: moving a slider never recompiles.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from ..plasticity.fixedpoint import quantise_levels

#: Zero of the signed product: stored voltages are read relative to V_DD / 2 (paper, eq. 4).
V_OFFSET = 0.45
#: Largest storable voltage (V); K and V are quantised in [0, V_STORE_MAX] (paper).
V_STORE_MAX = 0.9
#: Read voltage on the word line (V, paper eq. 4); it only sets the current scale here.
V_READ = 0.9
#: Longest input pulse (ns) of the pulse generators (paper, eq. 3).
T_MAX_NS = 15.0
#: Quantisation of the paper's hardware model: Q, stored K/V, second-product outputs.
Q_LEVELS, KV_LEVELS, OUT_LEVELS = 16, 8, 32


def _f32(x: Any) -> Array:
    return jnp.asarray(x, jnp.float32)


def _i32(x: Any) -> Array:
    return jnp.asarray(x, jnp.int32)


def _optional_f32(x: Any) -> Array | None:
    return None if x is None else jnp.asarray(x, jnp.float32)


def _concrete(value: Any) -> np.ndarray | None:
    if isinstance(value, jax.core.Tracer):
        return None
    return np.asarray(value)


def hardsigmoid(s: Array, s_sat: Array | float, offset: Array | float = 0.0) -> Array:
    r"""The charge-to-pulse transfer in units of ``T_max``: ``clip(s / s_sat + offset, 0, 1)``
    (paper eq. 3 with ``offset = 0``: 0 below zero charge, linear up to ``S_sat``, then 1)."""
    return jnp.clip(s / s_sat + offset, 0.0, 1.0)


def window_mask(n_tokens: int, window: Array | float) -> Array:
    """``mask[t, s]``: causal and inside the sliding window, ``s <= t`` and ``t - s < window``.
    ``window`` may be traced (``inf``: no window)."""
    t = jnp.arange(n_tokens)[:, None]
    s = jnp.arange(n_tokens)[None, :]
    return (s <= t) & ((t - s).astype(jnp.float32) < window)


def leak_factors(n_tokens: int, tau_retention_ms: Array | float, token_period_ms: Array | float):
    """``r[t, s] = exp(-(t - s) * token_period / tau)`` for ``s <= t`` (1 on the diagonal; the
    fraction of a stored deviation left when token ``t`` reads the row written by ``s``); 0 above
    the diagonal. ``tau = inf`` gives no leak."""
    t = jnp.arange(n_tokens)[:, None]
    s = jnp.arange(n_tokens)[None, :]
    age = jnp.maximum(t - s, 0).astype(jnp.float32)
    rate = _f32(token_period_ms) / jnp.maximum(_f32(tau_retention_ms), 1e-30)
    return jnp.where(s <= t, jnp.exp(-age * rate), 0.0)


def cell_normals(seed: int, shape: tuple[int, ...], rows: int = 256) -> np.ndarray:
    """Standard normal draws ``z (2, rows, *shape)`` of the K and V arrays' cells, fixed by
    ``seed`` (NumPy, outside any compiled function)."""
    rng = np.random.default_rng(int(seed))
    return rng.standard_normal((2, rows, *shape)).astype(np.float32)


def cell_gains(z: Array, variation: Array | float) -> Array:
    """Per-cell multiplicative gains ``exp(sigma z - sigma^2/2)`` of normal draws ``z``: log-normal
    with ``E[gain] = 1`` (unbiased) and ``std(log gain) = sigma``."""
    sigma = _f32(variation)
    return jnp.exp(sigma * z - 0.5 * sigma**2)


def _drawn_normals(seed: Array, shape: tuple[int, ...]) -> Array:
    # In-graph fallback for kernels built without ``cell_z``; the RBG generator compiles far
    # faster than threefry (the draws differ from :func:`cell_normals`).
    return jax.random.normal(jax.random.key(_i32(seed), impl="rbg"), shape, jnp.float32)


def softmax_attention_weights(q: Array, k: Array, window: Array | float) -> Array:
    """Ideal sliding-window softmax weights ``(H, T, T)`` of ``q, k (T, H, d)`` with a traced
    ``window`` (for the page's side-by-side maps); masked entries are exactly 0."""
    scores = jnp.einsum("thd,shd->hts", q, k) / jnp.sqrt(jnp.float32(q.shape[-1]))
    mask = window_mask(q.shape[0], window)[None]
    scores = jnp.where(mask, scores, -jnp.inf)
    return jnp.where(mask, jax.nn.softmax(scores, axis=-1), 0.0)


class GainCellTrace(NamedTuple):
    """Intermediate quantities of one gain-cell attention call (for views and tests)."""

    pulses: Array  # (T, H, d) query pulse widths / T_max after quantisation
    k_voltage: Array  # (T, H, d) written key voltages (V)
    v_voltage: Array  # (T, H, d) written value voltages (V)
    scores: Array  # (H, T, T) score charges S (masked entries 0)
    weights: Array  # (H, T, T) HardSigmoid pulses phi / T_max (masked entries 0)
    charge: Array  # (T, H, d) second-array output before the readout, alpha * A
    out: Array  # (T, H, d) the kernel's output


class GainCellAttention(eqx.Module):
    """One layer's gain-cell attention kernel, ``attention(q, k, v) -> out`` on ``(T, H, d)``.

    **Mapping** (per layer, set by :mod:`.adaptation`, trainable): ``q_scale``/``q_offset``
    (pulse width = ``q_scale * q + q_offset``), ``k_scale``/``k_offset`` and
    ``v_scale``/``v_offset`` (written voltage = ``0.45 V + scale * x + offset``; offsets are
    scalars or ``(H, d)``), ``s_sat`` (charge at saturation, V x T_max units) and ``s_offset``
    (HardSigmoid offset, dimensionless), ``out_scale`` (charge -> the output ADC's [-1, 1]) and
    ``readout_gain`` (digital gain after the ADC).

    **Device** (traced; sliders): ``window`` (tokens, ``inf`` = none), ``tau_retention_ms`` and
    ``token_period_ms`` (leak ``exp(-age * period / tau)``; ``inf`` = no leak), ``v_rest`` (V,
    voltage the cells leak to), ``nonlinearity`` (eta in [0, 1]: 0 linear cell, 1 square law),
    ``v_overdrive`` (V_ov of the read transistor, V), ``variation`` (sigma of the log-normal
    per-cell gain), ``quantise`` (1 = the paper's 16/8/32 levels, 0 = analog), ``seed`` (cells)
    and ``cell_z`` (the cells' normal draws ``(2, rows, H, d)`` from :func:`with_cells`; without
    them the draws are generated inside the kernel).
    """

    q_scale: Array = eqx.field(default=1.0, converter=_f32)
    q_offset: Array = eqx.field(default=0.5, converter=_f32)
    k_scale: Array = eqx.field(default=1.0, converter=_f32)
    k_offset: Array = eqx.field(default=0.0, converter=_f32)
    v_scale: Array = eqx.field(default=1.0, converter=_f32)
    v_offset: Array = eqx.field(default=0.0, converter=_f32)
    s_sat: Array = eqx.field(default=1.0, converter=_f32)
    s_offset: Array = eqx.field(default=0.0, converter=_f32)
    out_scale: Array = eqx.field(default=1.0, converter=_f32)
    readout_gain: Array = eqx.field(default=1.0, converter=_f32)
    window: Array = eqx.field(default=32.0, converter=_f32)
    tau_retention_ms: Array = eqx.field(default=float("inf"), converter=_f32)
    token_period_ms: Array = eqx.field(default=0.0, converter=_f32)
    v_rest: Array = eqx.field(default=V_OFFSET, converter=_f32)
    nonlinearity: Array = eqx.field(default=0.0, converter=_f32)
    v_overdrive: Array = eqx.field(default=V_OFFSET, converter=_f32)
    variation: Array = eqx.field(default=0.0, converter=_f32)
    quantise: Array = eqx.field(default=0.0, converter=_f32)
    seed: Array = eqx.field(default=0, converter=_i32)
    cell_z: Array | None = eqx.field(default=None, converter=_optional_f32)

    def __check_init__(self) -> None:
        checks = (
            ("s_sat", self.s_sat, lambda v: v > 0, "> 0 (charge at saturation)"),
            ("window", self.window, lambda v: v >= 1, ">= 1 token (inf: no window)"),
            ("tau_retention_ms", self.tau_retention_ms, lambda v: v > 0, "> 0 ms (inf: no leak)"),
            ("token_period_ms", self.token_period_ms, lambda v: np.isfinite(v) & (v >= 0),
             "finite and >= 0 ms"),
            ("nonlinearity", self.nonlinearity, lambda v: (v >= 0) & (v <= 1), "in [0, 1]"),
            ("v_overdrive", self.v_overdrive, lambda v: np.isfinite(v) & (v > 0),
             "finite and > 0 V"),
            ("variation", self.variation, lambda v: np.isfinite(v) & (v >= 0) & (v <= 2),
             "in [0, 2] (sigma of the log-normal cell gain)"),
            ("quantise", self.quantise, lambda v: (v == 0) | (v == 1), "0 or 1"),
            ("v_rest", self.v_rest, lambda v: np.isfinite(v) & (v >= 0) & (v <= V_STORE_MAX),
             f"in [0, {V_STORE_MAX}] V"),
        )  # fmt: skip
        for name, value, ok, allowed in checks:
            concrete = _concrete(value)
            if concrete is not None and not np.all(ok(concrete)):
                raise ValueError(
                    f"GainCellAttention: `{name}` must be {allowed}, got {concrete.tolist()}"
                )

    # -- the pieces ---------------------------------------------------------------------------
    def _maybe_quantise(self, x: Array, levels: int, lo: float, hi: float) -> Array:
        return jnp.where(self.quantise > 0.5, quantise_levels(x, levels=levels, lo=lo, hi=hi), x)

    def query_pulses(self, q: Array) -> Array:
        """Input pulse widths in units of ``T_max``: ``clip(q_scale q + q_offset, 0, 1)``."""
        offset = jnp.broadcast_to(self.q_offset, q.shape[1:])[None]
        p = jnp.clip(self.q_scale * q + offset, 0.0, 1.0)
        return self._maybe_quantise(p, Q_LEVELS, 0.0, 1.0)

    def written_voltage(self, x: Array, scale: Array, offset: Array) -> Array:
        """Voltage written into a cell: ``clip(0.45 V + scale x + offset, 0, 0.9 V)``."""
        offset = jnp.broadcast_to(offset, x.shape[1:])[None]
        voltage = jnp.clip(V_OFFSET + scale * x + offset, 0.0, V_STORE_MAX)
        return self._maybe_quantise(voltage, KV_LEVELS, 0.0, V_STORE_MAX)

    def _cell_terms(self, voltage: Array, gain: Array) -> tuple[Array, Array, Array]:
        """Coefficients ``(c0, c1, c2)`` with ``G g(x) = c0 + c1 r + c2 r^2`` for a written
        ``voltage`` that has relaxed to ``v_rest + (voltage - v_rest) r``."""
        beta = self.nonlinearity / (2.0 * self.v_overdrive)
        u = voltage - self.v_rest
        c = self.v_rest - V_OFFSET
        return gain * (c + beta * c**2), gain * u * (1.0 + 2.0 * beta * c), gain * beta * u**2

    def trace(self, q: Array, k: Array, v: Array) -> GainCellTrace:
        """Run the two array reads and return every intermediate (see :class:`GainCellTrace`)."""
        if q.ndim != 3 or q.shape != k.shape or q.shape != v.shape:
            raise ValueError(
                f"GainCellAttention: q, k, v must share a shape (T, heads, d_head); got "
                f"{q.shape}, {k.shape}, {v.shape}"
            )
        n_tokens, n_heads, d_head = q.shape
        pulses = self.query_pulses(q)
        k_voltage = self.written_voltage(k, self.k_scale, self.k_offset)
        v_voltage = self.written_voltage(v, self.v_scale, self.v_offset)
        # physical row of token s in the circular buffer of `window` rows
        rows = jnp.minimum(self.window, jnp.float32(n_tokens))
        row = jnp.mod(jnp.arange(n_tokens, dtype=jnp.float32), rows).astype(jnp.int32)
        if self.cell_z is None:
            z = _drawn_normals(self.seed, (2, n_tokens, n_heads, d_head))
        else:
            if self.cell_z.shape[2:] != (n_heads, d_head):
                raise ValueError(
                    f"GainCellAttention: cell_z is drawn for (heads, d_head) = "
                    f"{self.cell_z.shape[2:]}, but q has {(n_heads, d_head)}; rebuild it with "
                    "with_cells(kernel, (heads, d_head))"
                )
            z = self.cell_z
            row = jnp.mod(row, z.shape[1])
        gains = cell_gains(z[:, row], self.variation)
        mask = window_mask(n_tokens, self.window)[None]
        r = leak_factors(n_tokens, self.tau_retention_ms, self.token_period_ms)[None]
        k0, k1, k2 = self._cell_terms(k_voltage, gains[0])
        scores = sum(
            factor * jnp.einsum("thd,shd->hts", pulses, term)
            for factor, term in ((1.0, k0), (r, k1), (r * r, k2))
        )
        scores = jnp.where(mask, scores, 0.0)
        weights = jnp.where(mask, hardsigmoid(scores, self.s_sat, self.s_offset), 0.0)
        v0, v1, v2 = self._cell_terms(v_voltage, gains[1])
        charge = sum(
            jnp.einsum("hts,shd->thd", weights * factor, term)
            for factor, term in ((1.0, v0), (r, v1), (r * r, v2))
        )
        charge = self.out_scale * charge
        charge = jnp.where(
            self.quantise > 0.5,
            quantise_levels(charge, levels=OUT_LEVELS, lo=-1.0, hi=1.0),
            charge,
        )
        out = self.readout_gain * charge
        return GainCellTrace(pulses, k_voltage, v_voltage, scores, weights, charge, out)

    def __call__(self, q: Array, k: Array, v: Array) -> Array:
        """Causal sliding-window gain-cell attention; ``q, k, v (T, H, d) -> (T, H, d)``."""
        return self.trace(q, k, v).out


#: Field names of the per-layer mapping (what adaptation sets and fine-tunes).
MAPPING_FIELDS = (
    "q_scale", "q_offset", "k_scale", "k_offset", "v_scale", "v_offset",
    "s_sat", "s_offset", "out_scale", "readout_gain",
)  # fmt: skip
#: Field names of the device (the page's sliders; never trained).
DEVICE_FIELDS = (
    "window", "tau_retention_ms", "token_period_ms", "v_rest", "nonlinearity",
    "v_overdrive", "variation", "quantise", "seed", "cell_z",
)  # fmt: skip


def with_device(kernel: GainCellAttention, **device: Any) -> GainCellAttention:
    """A copy of ``kernel`` with device fields replaced (values checked like the constructor);
    the mapping is kept. Unknown names raise ``ValueError``."""
    unknown = sorted(set(device) - set(DEVICE_FIELDS))
    if unknown:
        raise ValueError(
            f"with_device: unknown device field(s) {unknown}; device fields are "
            f"{list(DEVICE_FIELDS)}"
        )
    if "seed" in device and "cell_z" not in device and kernel.cell_z is not None:
        seed = _concrete(device["seed"])
        if seed is None:
            raise ValueError("with_device: a new seed must be concrete to redraw cell_z")
        if int(seed) != int(np.asarray(kernel.seed)):
            z = kernel.cell_z
            device["cell_z"] = cell_normals(int(seed), tuple(z.shape[2:]), z.shape[1])
    values = {name: getattr(kernel, name) for name in (*MAPPING_FIELDS, *DEVICE_FIELDS)}
    values.update(device)
    return GainCellAttention(**values)


def with_cells(
    kernel: GainCellAttention, shape: tuple[int, int], rows: int = 256
) -> GainCellAttention:
    """``kernel`` with its cells' normal draws precomputed (:func:`cell_normals` of its seed) for
    ``shape = (heads, d_head)`` and ``rows`` rows (tokens beyond wrap around): no random-number
    generator is compiled into the kernel, which makes training steps compile several times
    faster."""
    return with_device(kernel, cell_z=cell_normals(int(np.asarray(kernel.seed)), shape, rows))


def ideal_device(kernel: GainCellAttention) -> GainCellAttention:
    """``kernel`` with every non-ideality off: no leak, linear cells, no variation, no
    quantisation (the window is kept)."""
    return with_device(
        kernel, tau_retention_ms=float("inf"), token_period_ms=0.0, nonlinearity=0.0,
        variation=0.0, quantise=0.0, v_rest=V_OFFSET,
    )  # fmt: skip


def mapping_of(kernel: GainCellAttention) -> dict[str, Array]:
    """The kernel's mapping fields ``{name: array}`` (the trainable part, see
    :data:`MAPPING_FIELDS`)."""
    return {name: getattr(kernel, name) for name in MAPPING_FIELDS}


def with_mapping(kernel: GainCellAttention, **mapping: Any) -> GainCellAttention:
    """A copy of ``kernel`` with mapping fields replaced (works on traced values, so a training
    step can rebuild the kernel from its trainable mapping); the device is kept."""
    unknown = sorted(set(mapping) - set(MAPPING_FIELDS))
    if unknown:
        raise ValueError(
            f"with_mapping: unknown mapping field(s) {unknown}; mapping fields are "
            f"{list(MAPPING_FIELDS)}"
        )
    values = {name: getattr(kernel, name) for name in (*MAPPING_FIELDS, *DEVICE_FIELDS)}
    values.update(mapping)
    return GainCellAttention(**values)
