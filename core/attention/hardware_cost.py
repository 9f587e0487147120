"""Energy, latency and area of one generated token's attention: gain-cell arrays vs a GPU.

A back-of-the-envelope calculator that shows the arithmetic behind the claim of Leroux et al.
(2025) that gain-cell attention is up to ~100x faster and ~10^4-10^5x more energy-efficient
than GPU attention. It is *not* the paper's circuit model: every device and circuit number is a
parameter with its source written next to it, and the sources say which numbers come from the
paper ("paper"), which from a vendor data sheet ("datasheet") and which are our assumptions
("assumption"; typical literature values, change them and watch the ratios move).

Gain cells (per layer, all heads in parallel; per head: window ``M`` rows x ``d`` columns in
each of the K and V arrays)::

    latency/layer = t_write + T_max + t_c2p + T_max + t_adc
    energy/head   = 2 d E_write                           (write k_t, v_t)
                  + M d I_cell V_read (p_Q + p_phi) T_max (two array reads; mean pulse fractions)
                  + M E_c2p + d E_adc + E_digital         (charge-to-pulse, output ADC, control)
    area/head     = 2 M d A_cell + M A_c2p + d A_adc

GPU (decoding, memory bound: every token's attention streams the whole KV cache)::

    bytes/token   = 2 L_ctx n_layers n_heads d b                (K and V, b bytes per value)
    latency       = max(bytes / bandwidth, flops / peak) + n_layers t_launch
    energy (data) = bytes E_byte + flops E_flop                 (a lower bound)
    energy (board)= P_board x latency                           (what a power meter would see)

with ``flops = 4 L_ctx n_layers n_heads d``. Everything is per generated token.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

#: Source labels used in the parameter tables.
PAPER, DATASHEET, ASSUMPTION = "paper", "datasheet", "assumption"


def _param(value: float, unit: str, source: str, note: str = "") -> Any:
    return dataclasses.field(default=value, metadata={"unit": unit, "source": source, "note": note})


def _check_positive(owner: object, allow_zero: tuple[str, ...] = ()) -> None:
    for f in dataclasses.fields(owner):  # type: ignore[arg-type]
        value = getattr(owner, f.name)
        if isinstance(value, str):
            continue
        ok = math.isfinite(value) and (value >= 0 if f.name in allow_zero else value > 0)
        if not ok:
            bound = ">= 0" if f.name in allow_zero else "> 0"
            raise ValueError(
                f"{type(owner).__name__}: `{f.name}` must be a finite number {bound} "
                f"{f.metadata.get('unit', '')}, got {value!r}"
            )


@dataclasses.dataclass(frozen=True)
class Workload:
    """The attention being costed: a decoder's shape and how many past tokens it attends to."""

    n_layers: int = _param(12, "", PAPER, "GPT-2 small, the model the paper maps")
    n_heads: int = _param(12, "", PAPER, "GPT-2 small")
    d_head: int = _param(64, "", PAPER, "GPT-2 small")
    window: int = _param(1024, "tokens", ASSUMPTION,
                         "sliding window = GPT-2's context length (paper's exact value unverified)")  # fmt: skip
    context: int = _param(1024, "tokens", ASSUMPTION,
                          "tokens already generated (the KV cache a GPU must read)")  # fmt: skip

    def __post_init__(self) -> None:
        _check_positive(self)
        for f in dataclasses.fields(self):
            if not float(getattr(self, f.name)).is_integer():
                raise ValueError(
                    f"Workload: `{f.name}` must be an integer, got {getattr(self, f.name)!r}"
                )

    @property
    def attended(self) -> int:
        """Tokens each new token attends to: ``min(context, window)``."""
        return int(min(self.context, self.window))


@dataclasses.dataclass(frozen=True)
class GainCellHardware:
    """Device and circuit numbers of the gain-cell attention (units in the field metadata)."""

    t_max_ns: float = _param(15.0, "ns", PAPER, "longest input pulse, eq. (3)")
    v_read: float = _param(0.9, "V", PAPER, "word-line read voltage V_in, eq. (4)")
    i_cell_ua: float = _param(0.1, "µA", ASSUMPTION, "mean read current of one cell")
    mean_pulse_q: float = _param(0.5, "", ASSUMPTION, "mean query pulse width / T_max")
    mean_pulse_phi: float = _param(0.25, "", ASSUMPTION,
                                   "mean HardSigmoid pulse / T_max (sparse attention)")  # fmt: skip
    e_write_fj: float = _param(10.0, "fJ", ASSUMPTION,
                               "write one cell: ~1 fF storage node + bit-line driver")  # fmt: skip
    e_c2p_fj: float = _param(100.0, "fJ", ASSUMPTION,
                             "one charge-to-pulse conversion (integrator + comparator)")  # fmt: skip
    e_adc_pj: float = _param(0.5, "pJ", ASSUMPTION,
                             "one 5-bit (32-level) output conversion, ~15 fJ/step SAR")  # fmt: skip
    e_digital_pj: float = _param(5.0, "pJ", ASSUMPTION, "control/addressing per head per token")
    t_write_ns: float = _param(5.0, "ns", ASSUMPTION, "write the new token's k, v")
    t_c2p_ns: float = _param(5.0, "ns", ASSUMPTION, "charge-to-pulse settling beyond T_max")
    t_adc_ns: float = _param(10.0, "ns", ASSUMPTION, "output conversion")
    a_cell_um2: float = _param(0.3, "µm²", ASSUMPTION, "3-transistor gain cell + capacitor")
    a_c2p_um2: float = _param(20.0, "µm²", ASSUMPTION, "one charge-to-pulse circuit")
    a_adc_um2: float = _param(100.0, "µm²", ASSUMPTION, "one 5-bit ADC")

    def __post_init__(self) -> None:
        _check_positive(self)
        for name in ("mean_pulse_q", "mean_pulse_phi"):
            if getattr(self, name) > 1:
                raise ValueError(
                    f"GainCellHardware: `{name}` is a fraction of T_max and must be <= 1, "
                    f"got {getattr(self, name)!r}"
                )


@dataclasses.dataclass(frozen=True)
class GPUReference:
    """A GPU's numbers for memory-bound decoding attention (units in the field metadata)."""

    name: str = "NVIDIA H100 SXM"
    bandwidth_tb_s: float = _param(3.35, "TB/s", DATASHEET, "HBM3 bandwidth")
    peak_tflops: float = _param(989.0, "TFLOP/s", DATASHEET, "dense FP16 tensor-core peak")
    board_power_w: float = _param(700.0, "W", DATASHEET, "TDP (board power under load)")
    bytes_per_value: float = _param(2.0, "B", ASSUMPTION, "FP16 KV cache")
    e_byte_pj: float = _param(30.0, "pJ/B", ASSUMPTION,
                              "HBM read + on-chip movement, ~3.9 pJ/bit for HBM2 alone")  # fmt: skip
    e_flop_pj: float = _param(0.5, "pJ/FLOP", ASSUMPTION, "FP16 tensor-core arithmetic")
    t_launch_us: float = _param(5.0, "µs", ASSUMPTION,
                                "kernel launch + synchronisation per layer's attention")  # fmt: skip

    def __post_init__(self) -> None:
        _check_positive(self, allow_zero=("t_launch_us", "e_flop_pj"))


#: Reference GPUs (data-sheet bandwidth / peak / board power; other numbers as the defaults).
GPUS: dict[str, GPUReference] = {
    "H100": GPUReference(),
    "RTX 4090": GPUReference(
        name="NVIDIA RTX 4090",
        bandwidth_tb_s=1.008,
        peak_tflops=165.2,
        board_power_w=450.0,
        e_byte_pj=60.0,
    ),
    "Jetson Nano": GPUReference(
        name="NVIDIA Jetson Nano",
        bandwidth_tb_s=0.0256,
        peak_tflops=0.472,
        board_power_w=10.0,
        e_byte_pj=100.0,
    ),
}


@dataclasses.dataclass(frozen=True)
class Cost:
    """Energy (J), latency (s) and area (mm², None for a GPU) of one token's attention, with the
    parts they add up from and the arithmetic as text lines."""

    energy_j: float
    latency_s: float
    area_mm2: float | None
    energy_parts_j: dict[str, float]
    latency_parts_s: dict[str, float]
    arithmetic: tuple[str, ...]
    energy_board_j: float | None = None  # GPU only: board power x latency


def parameter_rows(obj: Any) -> list[dict[str, Any]]:
    """``[{"parameter", "value", "unit", "source", "note"}]`` for a dataclass of this module."""
    return [
        {
            "parameter": f.name,
            "value": getattr(obj, f.name),
            "unit": f.metadata.get("unit", ""),
            "source": f.metadata.get("source", ""),
            "note": f.metadata.get("note", ""),
        }
        for f in dataclasses.fields(obj)
        if f.metadata
    ]


def gaincell_cost(workload: Workload, hw: GainCellHardware) -> Cost:
    """Per-token attention cost of the gain-cell arrays (module docstring has the formulas)."""
    m, d = workload.attended, workload.d_head
    heads = workload.n_layers * workload.n_heads
    t_max = hw.t_max_ns * 1e-9
    cell_read = hw.i_cell_ua * 1e-6 * hw.v_read * t_max  # J per cell for a full-length pulse
    per_head = {
        "write K, V": 2 * d * hw.e_write_fj * 1e-15,
        "array reads": m * d * cell_read * (hw.mean_pulse_q + hw.mean_pulse_phi),
        "charge-to-pulse": m * hw.e_c2p_fj * 1e-15,
        "output ADC": d * hw.e_adc_pj * 1e-12,
        "digital control": hw.e_digital_pj * 1e-12,
    }
    energy_parts = {name: heads * value for name, value in per_head.items()}
    per_layer = {
        "write": hw.t_write_ns * 1e-9,
        "Q·K read (T_max)": t_max,
        "charge-to-pulse": hw.t_c2p_ns * 1e-9,
        "φ·V read (T_max)": t_max,
        "ADC": hw.t_adc_ns * 1e-9,
    }
    latency_parts = {name: workload.n_layers * value for name, value in per_layer.items()}
    area_um2 = heads * (2 * m * d * hw.a_cell_um2 + m * hw.a_c2p_um2 + d * hw.a_adc_um2)
    energy = sum(energy_parts.values())
    latency = sum(latency_parts.values())
    arithmetic = (
        f"cells read per head = 2 x M x d = 2 x {m} x {d} = {2 * m * d:,}",
        f"one cell, full pulse: I V T_max = {hw.i_cell_ua:g} µA x {hw.v_read:g} V x "
        f"{hw.t_max_ns:g} ns = {cell_read * 1e15:.3g} fJ; mean pulses "
        f"{hw.mean_pulse_q:g} (Q) and {hw.mean_pulse_phi:g} (φ) of T_max",
        "per head: "
        + " + ".join(f"{k} {v * 1e12:.3g} pJ" for k, v in per_head.items())
        + f" = {sum(per_head.values()) * 1e12:.3g} pJ",
        f"x {workload.n_layers} layers x {workload.n_heads} heads = {energy * 1e9:.3g} nJ per token",
        f"latency per layer = {' + '.join(f'{v * 1e9:g}' for v in per_layer.values())} ns "
        f"= {sum(per_layer.values()) * 1e9:.3g} ns (heads in parallel); x {workload.n_layers} "
        f"layers = {latency * 1e9:.3g} ns",
        f"area = {heads} heads x (2 M d x {hw.a_cell_um2:g} µm² + M x {hw.a_c2p_um2:g} µm² + "
        f"d x {hw.a_adc_um2:g} µm²) = {area_um2 * 1e-6:.3g} mm²",
    )
    return Cost(energy, latency, area_um2 * 1e-6, energy_parts, latency_parts, arithmetic)


def gpu_cost(workload: Workload, gpu: GPUReference) -> Cost:
    """Per-token decoding attention on a GPU, memory bound (module docstring has the formulas).
    ``energy_j`` is the data-movement + arithmetic lower bound; ``energy_board_j`` is board
    power x latency."""
    values = workload.n_layers * workload.n_heads * workload.d_head * workload.attended
    n_bytes = 2 * values * gpu.bytes_per_value
    flops = 4 * values
    t_memory = n_bytes / (gpu.bandwidth_tb_s * 1e12)
    t_compute = flops / (gpu.peak_tflops * 1e12)
    t_launch = workload.n_layers * gpu.t_launch_us * 1e-6
    latency_parts = {"KV-cache streaming": max(t_memory, t_compute), "kernel launches": t_launch}
    energy_parts = {
        "KV-cache movement": n_bytes * gpu.e_byte_pj * 1e-12,
        "arithmetic": flops * gpu.e_flop_pj * 1e-12,
    }
    latency = sum(latency_parts.values())
    energy = sum(energy_parts.values())
    board = gpu.board_power_w * latency
    arithmetic = (
        f"KV bytes per token = 2 x L x layers x heads x d x b = 2 x {workload.attended} x "
        f"{workload.n_layers} x {workload.n_heads} x {workload.d_head} x {gpu.bytes_per_value:g} B "
        f"= {n_bytes / 1e6:.3g} MB",
        f"streaming time = {n_bytes / 1e6:.3g} MB / {gpu.bandwidth_tb_s:g} TB/s = "
        f"{t_memory * 1e6:.3g} µs (arithmetic {flops / 1e6:.3g} MFLOP at "
        f"{gpu.peak_tflops:g} TFLOP/s = {t_compute * 1e6:.3g} µs)",
        f"latency = {max(t_memory, t_compute) * 1e6:.3g} µs + {workload.n_layers} x "
        f"{gpu.t_launch_us:g} µs launches = {latency * 1e6:.3g} µs",
        f"energy (data) = {n_bytes / 1e6:.3g} MB x {gpu.e_byte_pj:g} pJ/B + "
        f"{flops / 1e6:.3g} MFLOP x {gpu.e_flop_pj:g} pJ = {energy * 1e6:.3g} µJ",
        f"energy (board) = {gpu.board_power_w:g} W x {latency * 1e6:.3g} µs = {board * 1e6:.3g} µJ",
    )
    return Cost(energy, latency, None, energy_parts, latency_parts, arithmetic, board)


def compare(
    workload: Workload | None = None,
    hw: GainCellHardware | None = None,
    gpus: dict[str, GPUReference] | None = None,
) -> dict[str, Any]:
    """Costs of the gain cells and of each GPU, and the ratios GPU / gain cell:
    ``{"gaincell": Cost, "gpus": {name: Cost}, "ratios": {name: {"latency", "energy",
    "energy_board"}}}`` (defaults: GPT-2 small, the default hardware, :data:`GPUS`)."""
    workload = workload or Workload()
    hw = hw or GainCellHardware()
    gpus = GPUS if gpus is None else gpus
    ours = gaincell_cost(workload, hw)
    costs = {name: gpu_cost(workload, gpu) for name, gpu in gpus.items()}
    ratios = {
        name: {
            "latency": c.latency_s / ours.latency_s,
            "energy": c.energy_j / ours.energy_j,
            "energy_board": (c.energy_board_j or math.nan) / ours.energy_j,
        }
        for name, c in costs.items()
    }
    return {"gaincell": ours, "gpus": costs, "ratios": ratios, "workload": workload, "hw": hw}
