"""Parameter models of the gain-cell attention page (Leroux et al. 2025): the chip's
non-idealities, the energy/latency calculator, and a session that trains, adapts and queries the
character model (:mod:`snnviz.core.attention.gaincell`, :mod:`~snnviz.core.attention.adaptation`,
:mod:`~snnviz.core.attention.hardware_cost`). This module never imports panel.

Device sliders only change traced arrays of the kernels: maps and evaluations never recompile.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import param

from snnviz.core.attention import charlm as lm
from snnviz.core.attention import hardware_cost as hc
from snnviz.core.attention.adaptation import (
    AdaptationComparison,
    DeviceSettings,
    compare_adaptation,
)
from snnviz.core.attention.gaincell import (
    V_OFFSET,
    V_STORE_MAX,
    GainCellAttention,
    softmax_attention_weights,
    with_device,
)
from snnviz.core.data.text import VOCAB, decode, encode

from ._base import ParamModel, integer, number

#: The character model of the page (quick configuration; ``FULL_CONFIG`` for reproduce(full)).
CONFIG = lm.CharLMConfig()
FULL_CONFIG = lm.CharLMConfig(pretrain_steps=1600)


class GainCellDeviceModel(ParamModel):
    """The non-idealities of a gain-cell chip (one token's K and V per circular-buffer row)."""

    model_name: ClassVar[str] = "gaincell_device"

    window = integer(
        32, bounds=(1, 256), soft=(1, 64), label="sliding window (tokens)",
        doc="Rows of each gain-cell array: a token is overwritten after this many tokens",
    )  # fmt: skip
    retention_ms = number(
        5.0, bounds=(1e-4, 1e6), soft=(0.05, 50.0), step=0.05, unit="ms",
        label="retention τ",
        doc="Time constant of the capacitor leak (Si CMOS gain cells: ~5 ms; OSFET cells "
        "far longer)",
    )  # fmt: skip
    token_period_us = number(
        20.0, bounds=(0.0, 1e6), soft=(0.0, 500.0), step=1.0, unit="µs", label="token period",
        doc="Time between two generated tokens (0: no leak)",
    )  # fmt: skip
    v_rest = number(
        V_OFFSET, bounds=(0.0, V_STORE_MAX), soft=(0.0, V_STORE_MAX), step=0.01, unit="V",
        label="leak target",
        doc="Voltage a leaking cell relaxes to (0.45 V = the product's zero: old tokens fade "
        "out; 0 V: they drift to a negative value)",
    )  # fmt: skip
    nonlinearity = number(
        0.5, bounds=(0.0, 1.0), soft=(0.0, 1.0), step=0.05, unit="", label="cell non-linearity η",
        doc="0: linear cell, 1: square-law read transistor, g(x) = x + η x²/(2 V_ov) "
        "(dimensionless)",
    )  # fmt: skip
    variation = number(
        0.05, bounds=(0.0, 1.0), soft=(0.0, 0.5), step=0.01, unit="", label="cell variation σ",
        doc="Sigma of the log-normal per-cell gain (dimensionless; mean gain 1)",
    )  # fmt: skip
    quantise = param.Boolean(
        True, label="quantisation (16/8/32 levels)",
        doc="Q pulses on 16 levels, stored K/V on 8 levels in [0, 0.9] V, outputs on 32 levels "
        "in [-1, 1] (the paper's hardware model)",
    )  # fmt: skip
    chip_seed = integer(
        0, bounds=(0, 2**31 - 1), soft=(0, 20), label="chip (seed)",
        doc="Seed of the cell variation: which chip",
    )  # fmt: skip

    @property
    def retention_tokens(self) -> float:
        """τ / token period: tokens until a stored deviation decays to 1/e (inf: no leak)."""
        period_ms = self.token_period_us * 1e-3
        return math.inf if period_ms == 0 else self.retention_ms / period_ms

    def build(self) -> DeviceSettings:
        """The hashable device description the engine uses."""
        self.validate()
        return DeviceSettings(
            window=float(self.window), tau_retention_ms=float(self.retention_ms),
            token_period_ms=float(self.token_period_us) * 1e-3, v_rest=float(self.v_rest),
            nonlinearity=float(self.nonlinearity), variation=float(self.variation),
            quantise=bool(self.quantise), seed=int(self.chip_seed),
        )  # fmt: skip

    def apply(self, kernels: list[GainCellAttention]) -> list[GainCellAttention]:
        """``kernels`` (mapping kept) on this chip; layer ``l`` uses seed ``1009 seed + l``."""
        device = self.build()
        return [
            with_device(
                k,
                window=device.window,
                tau_retention_ms=device.tau_retention_ms,
                token_period_ms=device.token_period_ms,
                v_rest=device.v_rest,
                nonlinearity=device.nonlinearity,
                variation=device.variation,
                quantise=float(device.quantise),
                seed=device.seed * 1009 + layer,
            )
            for layer, k in enumerate(kernels)
        ]


class HardwareCostModel(ParamModel):
    """The calculator's workload and the numbers a user most likely wants to question (every
    other number is in :mod:`snnviz.core.attention.hardware_cost`, with its source)."""

    model_name: ClassVar[str] = "gaincell_cost"

    n_layers = integer(12, bounds=(1, 200), soft=(1, 96), label="layers",
                       doc="Transformer layers (GPT-2 small: 12)")  # fmt: skip
    n_heads = integer(12, bounds=(1, 256), soft=(1, 64), label="heads per layer",
                      doc="Attention heads per layer (GPT-2 small: 12)")  # fmt: skip
    d_head = integer(64, bounds=(1, 1024), soft=(16, 256), label="head dimension",
                     doc="Dimension of a head's keys and values")  # fmt: skip
    window = integer(1024, bounds=(1, 1_000_000), soft=(16, 8192), label="sliding window (tokens)",
                     doc="Rows of each gain-cell array")  # fmt: skip
    context = integer(1024, bounds=(1, 10_000_000), soft=(16, 8192),
                      label="context (tokens)", doc="Tokens generated so far")  # fmt: skip
    i_cell_ua = number(0.1, bounds=(1e-6, 1e3), soft=(0.01, 2.0), step=0.01, unit="µA",
                       label="cell read current", doc="Mean read current of one gain cell")  # fmt: skip
    e_c2p_fj = number(100.0, bounds=(0.0, 1e6), soft=(1.0, 1000.0), step=1.0, unit="fJ",
                      label="charge-to-pulse energy", doc="Energy of one conversion")  # fmt: skip
    e_adc_pj = number(0.5, bounds=(0.0, 1e4), soft=(0.01, 10.0), step=0.01, unit="pJ",
                      label="output ADC energy", doc="Energy of one 5-bit conversion")  # fmt: skip
    t_adc_ns = number(10.0, bounds=(0.0, 1e6), soft=(0.0, 100.0), step=1.0, unit="ns",
                      label="output ADC time", doc="Conversion time")  # fmt: skip
    t_launch_us = number(5.0, bounds=(0.0, 1e4), soft=(0.0, 20.0), step=0.5, unit="µs",
                         label="GPU launch overhead", doc="Per layer's attention kernel")  # fmt: skip
    bytes_per_value = number(2.0, bounds=(0.125, 8.0), soft=(0.5, 4.0), step=0.5, unit="B",
                             label="GPU bytes per K/V value",
                             doc="2 = FP16 cache, 1 = INT8, 0.5 = INT4")  # fmt: skip

    def validate(self) -> None:
        if self.i_cell_ua <= 0:
            raise ValueError(f"cell read current must be > 0 µA, got {self.i_cell_ua}")

    def build(self) -> dict[str, Any]:
        """:func:`~snnviz.core.attention.hardware_cost.compare` for the current values."""
        self.validate()
        workload = hc.Workload(
            n_layers=self.n_layers, n_heads=self.n_heads, d_head=self.d_head,
            window=self.window, context=self.context,
        )  # fmt: skip
        hw = dataclasses.replace(
            hc.GainCellHardware(), i_cell_ua=self.i_cell_ua, e_c2p_fj=self.e_c2p_fj,
            e_adc_pj=self.e_adc_pj, t_adc_ns=self.t_adc_ns,
        )  # fmt: skip
        gpus = {
            name: dataclasses.replace(
                gpu, t_launch_us=self.t_launch_us, bytes_per_value=self.bytes_per_value
            )
            for name, gpu in hc.GPUS.items()
        }
        return hc.compare(workload, hw, gpus)


# -- the character model on gain cells -----------------------------------------------------------
@eqx.filter_jit
def _maps(ideal_model: Any, gc_model: Any, gc_kernels: list, ids: jax.Array, window: jax.Array):
    onehot = jax.nn.one_hot(ids, ideal_model.head.out_features)
    _, ideal_records = ideal_model(onehot, lm.ideal_kernels(CONFIG), return_qkv=True)
    ideal = jnp.stack([softmax_attention_weights(q, k, window) for q, k, _ in ideal_records])
    _, gc_records = gc_model(onehot, list(gc_kernels), return_qkv=True)
    traces = [kern.trace(*qkv) for kern, qkv in zip(gc_kernels, gc_records, strict=True)]
    return (
        ideal,
        jnp.stack([t.weights for t in traces]),
        jnp.stack([t.k_voltage for t in traces]),
        jnp.stack([t.v_voltage for t in traces]),
    )


def check_text(text: str) -> np.ndarray:
    """Ids of ``text`` for the maps (at most ``seq_len`` characters); ValueError naming the
    characters outside the vocabulary."""
    if not text:
        raise ValueError("the text is empty; type a few words (lower-case letters, spaces, '.')")
    bad = sorted(set(text) - set(VOCAB))
    if bad:
        raise ValueError(
            f"the text contains {bad}: only lower-case letters a-z, space and '.' are in the "
            "model's vocabulary"
        )
    return encode(text[: CONFIG.seq_len])


@dataclasses.dataclass
class MapData:
    """Attention maps of one text: ideal ``(L, H, T, T)`` softmax weights of the pre-trained
    model, gain-cell HardSigmoid pulses ``(L, H, T, T)`` and written voltages ``(L, T, H, d)``."""

    text: str
    ideal: np.ndarray
    gaincell: np.ndarray
    k_voltage: np.ndarray
    v_voltage: np.ndarray
    gaincell_label: str


class GainCellSession:
    """Owns the character model's state for one page: before training an untrained model, after
    :meth:`train_and_adapt` the comparison (:class:`AdaptationComparison`)."""

    def __init__(self, config: lm.CharLMConfig = CONFIG) -> None:
        self.config = config
        self.untrained = lm.init_model(config)
        self.comparison: AdaptationComparison | None = None

    @property
    def trained(self) -> bool:
        return self.comparison is not None

    def train_and_adapt(
        self,
        device: GainCellDeviceModel,
        finetune_steps: int,
        progress: Any = None,
        *,
        ablation: bool = False,
    ) -> AdaptationComparison:
        """Pre-train (cached), calibrate and fine-tune on the chip ``device`` describes (with
        ``ablation`` also fine-tune without the calibration)."""
        self.comparison = compare_adaptation(
            self.config, device.build(), finetune_steps=finetune_steps, ablation=ablation,
            progress=progress,
        )  # fmt: skip
        return self.comparison

    def _gaincell_model(self, device: GainCellDeviceModel, adapted: bool):
        if self.comparison is None:
            kernels = device.apply(
                device.build().kernels(
                    self.config.n_layers, (self.config.n_heads, self.config.d_head)
                )
            )
            return self.untrained, self.untrained, kernels, "untrained model, naive mapping"
        c = self.comparison
        if adapted:
            return c.ideal.model, c.adapted.model, device.apply(c.adapted.kernels), "adapted"
        kernels = device.apply(c.unadapted_kernels)
        return c.ideal.model, c.ideal.model, kernels, "pre-trained weights, no adaptation"

    def maps(self, text: str, device: GainCellDeviceModel, *, adapted: bool = True) -> MapData:
        """Attention maps of ``text`` (padded to ``seq_len`` with spaces; causal, so the padding
        changes nothing) for the ideal and the gain-cell model on ``device``."""
        ids = check_text(text)
        padded = np.full(self.config.seq_len, encode(" ")[0], np.int32)
        padded[: ids.size] = ids
        ideal_model, gc_model, kernels, label = self._gaincell_model(device, adapted)
        ideal, gc, kv, vv = _maps(
            ideal_model, gc_model, kernels, jnp.asarray(padded), jnp.float32(device.window)
        )
        n = ids.size
        return MapData(
            decode(ids), np.asarray(ideal)[:, :, :n, :n], np.asarray(gc)[:, :, :n, :n],
            np.asarray(kv)[:, :n], np.asarray(vv)[:, :n], label,
        )  # fmt: skip

    def evaluate_on(self, device: GainCellDeviceModel) -> dict[str, dict[str, float]]:
        """Test perplexity/accuracy of the adapted and the unadapted model on ``device`` (the
        chip the sliders describe now); empty before training."""
        if self.comparison is None:
            return {}
        c = self.comparison
        return {
            "adapted, this chip": lm.evaluate(
                c.adapted.model, device.apply(c.adapted.kernels), self.config
            ),
            "no adaptation, this chip": lm.evaluate(
                c.ideal.model, device.apply(c.unadapted_kernels), self.config
            ),
        }

    def sample(self, prompt: str, device: GainCellDeviceModel, n_chars: int = 60) -> str:
        """Continue ``prompt`` with the adapted gain-cell model on ``device`` (ValueError for
        characters outside the vocabulary or before training)."""
        check_text(prompt)
        if self.comparison is None:
            raise ValueError("train and adapt the model first (button 'Train & adapt')")
        c = self.comparison
        return lm.sample_text(
            c.adapted.model, device.apply(c.adapted.kernels), self.config, prompt, n_chars, seed=0
        )


def default_text() -> str:
    """A test-set excerpt that starts at a sentence (the maps' default text)."""
    test = decode(lm.corpus_for(CONFIG).test[:400])
    start = test.index(". ") + 2
    return test[start : start + CONFIG.seq_len]
