"""Adapting a pre-trained softmax model to non-ideal gain-cell attention.

Leroux et al. (2025) do not train the hardware model from scratch: an *initialisation
algorithm* adapts pre-trained GPT-2 weights to the non-linear, quantised gain-cell model, and a
short training follows (abstract and Methods, which also state that the quantised models are
trained quantisation-aware: quantised forward pass, full-precision backward pass). We could not
verify the algorithm's exact steps, so this module implements **our version** of the idea:

1. **Calibration**, layer by layer (layer ``l`` is calibrated on the inputs it receives when
   layers ``< l`` already run on gain cells), with the weights untouched: first range-filling
   scales (99 % of |q| inside half the pulse range [0, 1], of |k| and |v| inside half the
   voltage range [0, 0.9] V), a HardSigmoid spanning the median to the largest score charge and
   an output ADC range from the charge statistics; then a short Adam fit of the layer's mapping
   alone (scales, per-(head, dim) offsets, S_sat, the HardSigmoid offset, output range, readout
   gain) that minimises the error between the gain-cell layer output — on the actual chip,
   quantisation straight-through — and the pre-trained softmax layer's output, relative to the
   output power. The per-(head, dim) key offsets can absorb part of softmax's per-query
   normalisation, which a HardSigmoid lacks.
2. **Fine-tuning**: a few (default 150) Adam steps on the language-model loss with every
   non-ideality switched on (quantisation with straight-through gradients, the leak, the cell
   non-linearity and the chip's own cell variation), training the weights and the mapping.

:func:`compare_adaptation` runs the comparison of the page: the ideal model, gain cells with the
naive mapping (no adaptation), after calibration only, after calibration + fine-tuning, and as
an ablation fine-tuning without the calibration; the ideal model is trained for the same extra
steps so that no variant is ahead merely by training longer.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import Array

from .charlm import (
    CharLMConfig,
    Progress,
    TrainResult,
    _no_progress,
    corpus_for,
    evaluate,
    ideal_kernels,
    pretrained,
    train,
)
from .decoder import Decoder, causal_softmax_attention
from .gaincell import (
    V_OFFSET,
    GainCellAttention,
    mapping_of,
    with_cells,
    with_mapping,
)

#: Fraction of q, k, v values that must fit the pulse / voltage ranges.
RANGE_QUANTILE = 0.99


@dataclasses.dataclass(frozen=True)
class DeviceSettings:
    """The non-idealities of a gain-cell chip (hashable; see :class:`GainCellAttention`)."""

    window: float = 32.0  # tokens (rows of the circular buffer)
    tau_retention_ms: float = 5.0  # capacitor retention time constant
    token_period_ms: float = 0.02  # one token written every 20 µs: tau = 250 tokens
    v_rest: float = V_OFFSET  # V, where a leaking cell ends up
    nonlinearity: float = 0.5  # 0 linear cell, 1 square-law read transistor
    v_overdrive: float = V_OFFSET  # V
    variation: float = 0.05  # sigma of the log-normal per-cell gain
    quantise: bool = True  # the paper's 16 / 8 / 32 levels
    seed: int = 0  # which chip (cell variation)

    def kernels(
        self, n_layers: int, cell_shape: tuple[int, int] | None = None
    ) -> list[GainCellAttention]:
        """One kernel per layer with the naive default mapping; each layer has its own cells
        (seed ``1009 seed + layer``), precomputed for ``cell_shape = (heads, d_head)`` if given."""
        values = dataclasses.asdict(self)
        values["quantise"] = float(self.quantise)
        seed = values.pop("seed")
        kernels = [
            GainCellAttention(**values, seed=seed * 1009 + layer) for layer in range(n_layers)
        ]
        return kernels if cell_shape is None else [with_cells(k, cell_shape) for k in kernels]


#: An ideal chip: the paper's window, no leak, linear cells, no variation, no quantisation.
IDEAL_DEVICE = DeviceSettings(
    tau_retention_ms=float("inf"), token_period_ms=0.0, nonlinearity=0.0, variation=0.0,
    quantise=False,
)  # fmt: skip


@eqx.filter_jit
def _layer_records(model: Decoder, kernels: Sequence[Any], inputs: Array) -> list:
    """Every layer's ``(q, k, v)`` for a batch of id windows (one compile per kernel types)."""

    def one(ids: Array) -> list:
        _, records = model(jax.nn.one_hot(ids, model.head.out_features), list(kernels),
                           return_qkv=True)  # fmt: skip
        return records

    return jax.vmap(one)(inputs)


@eqx.filter_jit
def _softmax_out(q: Array, k: Array, v: Array, window: int) -> Array:
    return jax.vmap(lambda a, b, c: causal_softmax_attention(a, b, c, window=window))(q, k, v)


def _initial_mapping(kernel: GainCellAttention, q: Array, k: Array, v: Array, window: float):
    """Range-filling scales (99 % of |q| in half the pulse range, of |k|, |v| in half the
    voltage range) and a HardSigmoid spanning the median to the largest score charge of an ideal
    linear cell (NumPy; the Adam fit that follows sees the real chip)."""
    qn, kn, vn = (np.asarray(x, np.float64) for x in (q, k, v))
    scale = {
        name: half / max(float(np.quantile(np.abs(x), RANGE_QUANTILE)), 1e-6)
        for name, half, x in (("q", 0.5, qn), ("k", V_OFFSET, kn), ("v", V_OFFSET, vn))
    }
    pulses = np.clip(scale["q"] * qn + 0.5, 0.0, 1.0)
    keys = np.clip(scale["k"] * kn, -V_OFFSET, V_OFFSET)
    values = np.clip(scale["v"] * vn, -V_OFFSET, V_OFFSET)
    scores = np.einsum("bthd,bshd->bhts", pulses, keys)
    n_tokens = qn.shape[1]
    t_idx, s_idx = np.meshgrid(np.arange(n_tokens), np.arange(n_tokens), indexing="ij")
    valid = (s_idx <= t_idx) & (t_idx - s_idx < window)
    lo, hi = float(np.median(scores[:, :, valid])), float(np.max(scores[:, :, valid]))
    s_sat = max(hi - lo, 1e-3)
    weights = np.where(valid, np.clip((scores - lo) / s_sat, 0.0, 1.0), 0.0)
    charge = np.einsum("bhts,bshd->bthd", weights, values)
    out_scale = 1.0 / max(float(np.quantile(np.abs(charge), 0.999)), 1e-9)
    return with_mapping(
        kernel, q_scale=scale["q"], q_offset=0.5, k_scale=scale["k"], k_offset=0.0,
        v_scale=scale["v"], v_offset=0.0, s_sat=s_sat, s_offset=-lo / s_sat,
        out_scale=out_scale, readout_gain=1.0,
    )  # fmt: skip


_POSITIVE = ("q_scale", "k_scale", "v_scale", "s_sat", "out_scale")


def _to_free(mapping: dict[str, Array], shape: tuple[int, int]) -> dict[str, Array]:
    free = {}
    for name, value in mapping.items():
        value = jnp.asarray(value, jnp.float32)
        if name in _POSITIVE:
            free[name] = jnp.log(value)
        elif name.endswith("_offset") and name != "s_offset":
            free[name] = jnp.broadcast_to(value, shape)  # per (head, dim)
        else:
            free[name] = value
    return free


def _from_free(free: dict[str, Array]) -> dict[str, Array]:
    return {n: jnp.exp(v) if n in _POSITIVE else v for n, v in free.items()}


@eqx.filter_jit
def _distil(
    kernel: GainCellAttention, free: dict, q: Array, k: Array, v: Array, target: Array,
    steps: int, learning_rate: float,
) -> tuple[dict, Array]:  # fmt: skip
    optimizer = optax.adam(learning_rate)
    power = jnp.mean(target**2)

    def loss(f: dict) -> Array:
        out = jax.vmap(with_mapping(kernel, **_from_free(f)))(q, k, v)
        return jnp.mean((out - target) ** 2) / power

    def step(carry: tuple, _: Any) -> tuple:
        f, state = carry
        value, grads = jax.value_and_grad(loss)(f)
        updates, state = optimizer.update(grads, state, f)
        return (optax.apply_updates(f, updates), state), value

    (free, _), losses = jax.lax.scan(step, (free, optimizer.init(free)), None, length=steps)
    return free, jnp.concatenate([losses, loss(free)[None]])


def calibrate_layer(
    kernel: GainCellAttention,
    q: Array,
    k: Array,
    v: Array,
    target: Array,
    *,
    steps: int = 150,
    learning_rate: float = 0.03,
) -> tuple[GainCellAttention, dict[str, Any]]:
    """Calibrate one layer's mapping on its inputs ``q, k, v (B, T, H, d)`` against the
    pre-trained layer's output ``target (B, T, H, d)``: range-filling initial scales, then
    ``steps`` Adam steps on the mapping alone (device as it is, quantisation straight-through)
    minimising the output error relative to the target power. Info: the relative error before
    and after (``1 -`` it is the variance of the softmax output the gain cells explain)."""
    start = _initial_mapping(kernel, q, k, v, float(kernel.window))
    free = _to_free(mapping_of(start), q.shape[-2:])
    free, losses = _distil(kernel, free, q, k, v, target, steps, learning_rate)
    calibrated = with_mapping(kernel, **_from_free(free))
    losses = np.asarray(losses)
    info = {
        "relative_error_initial": float(losses[0]),
        "relative_error": float(losses[-1]),
        "losses": losses,
        **{n: float(getattr(calibrated, n)) for n in ("q_scale", "k_scale", "v_scale",
                                                      "s_sat", "s_offset", "out_scale",
                                                      "readout_gain")},
    }  # fmt: skip
    return calibrated, info


def calibrate(
    model: Decoder,
    kernels: Sequence[GainCellAttention],
    inputs: np.ndarray,
    window: int,
    progress: Progress | None = None,
) -> tuple[list[GainCellAttention], list[dict[str, Any]]]:
    """Calibrate every layer in turn on character windows ``inputs (B, T)``: layer ``l`` is
    calibrated on the inputs it gets when the calibrated gain-cell layers ``< l`` run before it,
    against the softmax (window ``window``) output on those same inputs. Returns the kernels
    and per-layer info (see :func:`calibrate_layer`)."""
    progress = progress or _no_progress
    inputs = jnp.asarray(inputs)
    current = list(kernels)
    infos = []
    for layer in range(len(current)):
        q, k, v = _layer_records(model, current, inputs)[layer]
        target = _softmax_out(q, k, v, window)
        current[layer], info = calibrate_layer(current[layer], q, k, v, target)
        infos.append(info)
        progress((layer + 1) / len(current), f"calibrated layer {layer + 1}/{len(current)}")
    return current, infos


@dataclasses.dataclass
class AdaptationComparison:
    """Everything :func:`compare_adaptation` measured (metrics are ``evaluate`` dicts)."""

    metrics: dict[str, dict[str, float]]
    ideal: TrainResult  # the pre-trained model with its softmax kernels
    adapted: TrainResult  # calibrated + fine-tuned gain-cell model
    unadapted_kernels: list[GainCellAttention]  # naive mapping, pre-trained weights
    calibrated_kernels: list[GainCellAttention]
    calibration: list[dict[str, Any]]
    losses: dict[str, np.ndarray]  # fine-tuning curves per variant
    device: DeviceSettings
    finetune_steps: int


_CACHE: dict[tuple, AdaptationComparison] = {}
_LOCK = threading.Lock()


def compare_adaptation(
    config: CharLMConfig,
    device: DeviceSettings = DeviceSettings(),
    *,
    finetune_steps: int = 100,
    finetune_lr: float = 1e-3,
    ablation: bool = True,
    progress: Progress | None = None,
) -> AdaptationComparison:
    """Ideal vs gain cells without adaptation vs after calibration vs after calibration +
    ``finetune_steps`` fine-tuning steps (and, with ``ablation``, fine-tuning without the
    calibration). Cached per arguments and process."""
    key = (config, device, finetune_steps, finetune_lr, ablation)
    progress = progress or _no_progress
    with _LOCK:
        if key in _CACHE:
            progress(1.0, "adaptation results (cached)")
            return _CACHE[key]
        stages = 5 + int(ablation)

        def stage(index: int, name: str) -> Progress:
            return lambda f, m: progress((index + f) / stages, f"{name}: {m}")

        pre = pretrained(config, stage(0, "pre-training"))
        ideal = ideal_kernels(config)
        metrics = {"ideal": evaluate(pre.model, ideal, config)}
        more = train(
            pre.model, ideal, config, steps=finetune_steps, learning_rate=finetune_lr,
            seed=config.seed + 1, progress=stage(1, "ideal, same extra steps"), label="training",
        )  # fmt: skip
        metrics["ideal_same_steps"] = evaluate(more.model, ideal, config)
        raw = device.kernels(config.n_layers, (config.n_heads, config.d_head))
        metrics["no_adaptation"] = evaluate(pre.model, raw, config)
        calibration_ids = corpus_for(config).windows("train", 16, config.seq_len, seed=777)
        calibrated, info = calibrate(
            pre.model, raw, calibration_ids[:, :-1], config.window, stage(2, "calibration")
        )
        metrics["calibration_only"] = evaluate(pre.model, calibrated, config)
        adapted = train(
            pre.model, calibrated, config, steps=finetune_steps, learning_rate=finetune_lr,
            seed=config.seed + 1, progress=stage(3, "fine-tuning on gain cells"),
            label="fine-tuning",
        )  # fmt: skip
        metrics["adapted"] = evaluate(adapted.model, adapted.kernels, config)
        losses = {"ideal_same_steps": more.losses, "adapted": adapted.losses}
        if ablation:
            plain = train(
                pre.model, raw, config, steps=finetune_steps, learning_rate=finetune_lr,
                seed=config.seed + 1, progress=stage(4, "fine-tuning without calibration"),
                label="fine-tuning",
            )  # fmt: skip
            metrics["finetune_only"] = evaluate(plain.model, plain.kernels, config)
            losses["finetune_only"] = plain.losses
        progress(1.0, "done")
        result = AdaptationComparison(
            metrics, TrainResult(pre.model, ideal, pre.losses), adapted, raw, calibrated, info,
            losses, device, finetune_steps,
        )  # fmt: skip
        _CACHE[key] = result
        return result
