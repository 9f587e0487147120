"""Energy/latency/area calculator: arithmetic against hand-computed values, validation, the
source labels of every parameter, and the default comparison's orders of magnitude."""

from __future__ import annotations

import dataclasses
import math

import pytest

from snnviz.core.attention.hardware_cost import (
    ASSUMPTION,
    DATASHEET,
    GPUS,
    PAPER,
    GainCellHardware,
    GPUReference,
    Workload,
    compare,
    gaincell_cost,
    gpu_cost,
    parameter_rows,
)

WORKLOAD = Workload(n_layers=2, n_heads=3, d_head=4, window=5, context=8)
HW = GainCellHardware(
    t_max_ns=10.0, v_read=1.0, i_cell_ua=2.0, mean_pulse_q=0.5, mean_pulse_phi=0.5,
    e_write_fj=10.0, e_c2p_fj=100.0, e_adc_pj=1.0, e_digital_pj=2.0, t_write_ns=1.0,
    t_c2p_ns=2.0, t_adc_ns=3.0, a_cell_um2=1.0, a_c2p_um2=10.0, a_adc_um2=100.0,
)  # fmt: skip
GPU = GPUReference(
    name="toy", bandwidth_tb_s=1.0, peak_tflops=1.0, board_power_w=100.0, bytes_per_value=2.0,
    e_byte_pj=10.0, e_flop_pj=1.0, t_launch_us=1.0,
)  # fmt: skip


def test_gaincell_arithmetic_by_hand() -> None:
    cost = gaincell_cost(WORKLOAD, HW)
    # a cell read with a full pulse: 2 uA x 1 V x 10 ns = 20 fJ; window 5 (< context 8)
    per_head_fj = {"write K, V": 2 * 4 * 10, "array reads": 5 * 4 * 20 * (0.5 + 0.5),
                   "charge-to-pulse": 5 * 100, "output ADC": 4 * 1000, "digital control": 2000}  # fmt: skip
    for name, fj in per_head_fj.items():
        assert cost.energy_parts_j[name] == pytest.approx(6 * fj * 1e-15)
    assert cost.energy_j == pytest.approx(6 * 6980e-15)
    assert cost.latency_s == pytest.approx(2 * (1 + 10 + 2 + 10 + 3) * 1e-9)
    assert cost.area_mm2 == pytest.approx(6 * (2 * 5 * 4 * 1 + 5 * 10 + 4 * 100) * 1e-6)
    assert any("131,072" in line or "40" in line for line in cost.arithmetic)


def test_gpu_arithmetic_by_hand() -> None:
    cost = gpu_cost(WORKLOAD, GPU)
    n_bytes = 2 * 5 * 2 * 3 * 4 * 2  # K and V, window-limited context, FP16
    assert n_bytes == 480
    assert cost.latency_parts_s["KV-cache streaming"] == pytest.approx(480 / 1e12)
    assert cost.latency_s == pytest.approx(480 / 1e12 + 2e-6)
    assert cost.energy_j == pytest.approx(480 * 10e-12 + 480 * 1e-12)
    assert cost.energy_board_j == pytest.approx(100.0 * (480 / 1e12 + 2e-6))
    assert cost.area_mm2 is None


def test_compute_bound_gpu_uses_the_slower_of_memory_and_arithmetic() -> None:
    slow_math = dataclasses.replace(GPU, peak_tflops=1e-3)
    assert gpu_cost(WORKLOAD, slow_math).latency_parts_s["KV-cache streaming"] == pytest.approx(
        480 / 1e9
    )


def test_compare_ratios_are_quotients() -> None:
    result = compare(WORKLOAD, HW, {"toy": GPU})
    ours, theirs = result["gaincell"], result["gpus"]["toy"]
    ratios = result["ratios"]["toy"]
    assert ratios["latency"] == pytest.approx(theirs.latency_s / ours.latency_s)
    assert ratios["energy"] == pytest.approx(theirs.energy_j / ours.energy_j)
    assert ratios["energy_board"] == pytest.approx(theirs.energy_board_j / ours.energy_j)


def test_energy_scales_linearly_with_the_attended_tokens() -> None:
    """Doubling the context (inside the window) doubles the GPU's bytes and the cells read."""
    short = Workload(n_layers=1, n_heads=1, d_head=64, window=4096, context=512)
    long = dataclasses.replace(short, context=1024)
    g1, g2 = gpu_cost(short, GPU), gpu_cost(long, GPU)
    assert g2.energy_j == pytest.approx(2 * g1.energy_j)
    c1, c2 = gaincell_cost(short, HW), gaincell_cost(long, HW)
    assert c2.energy_parts_j["array reads"] == pytest.approx(2 * c1.energy_parts_j["array reads"])
    assert c2.latency_s == c1.latency_s  # analog reads are parallel over rows


def test_every_parameter_names_its_source() -> None:
    for obj in (Workload(), GainCellHardware(), *GPUS.values()):
        rows = parameter_rows(obj)
        assert rows, obj
        assert all(r["source"] in (PAPER, DATASHEET, ASSUMPTION) for r in rows)
        assert all(r["note"] for r in rows)
    paper = {r["parameter"] for r in parameter_rows(GainCellHardware()) if r["source"] == PAPER}
    assert {"t_max_ns", "v_read"} <= paper


def test_default_comparison_orders_of_magnitude() -> None:
    """GPT-2 small, window 1024, H100: latency ~10^2, data-movement energy ~10^4-10^5 (our
    assumptions; the paper reports up to 10^2 and 10^4 (journal) / 10^5 (arXiv))."""
    ratios = compare()["ratios"]["H100"]
    assert 1.5 < math.log10(ratios["latency"]) < 2.5
    assert 4.0 < math.log10(ratios["energy"]) < 5.0


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: GainCellHardware(i_cell_ua=0.0), "i_cell_ua"),
        (lambda: GainCellHardware(mean_pulse_phi=1.5), "mean_pulse_phi"),
        (lambda: GPUReference(bandwidth_tb_s=-1.0), "bandwidth_tb_s"),
        (lambda: GPUReference(e_byte_pj=float("nan")), "e_byte_pj"),
        (lambda: Workload(d_head=0), "d_head"),
        (lambda: Workload(window=2.5), "window"),
    ],
)
def test_bad_values_raise(make, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()
