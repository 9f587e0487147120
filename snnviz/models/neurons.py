"""Parameter models of the single-neuron types in :mod:`snnviz.core.neurons`.

Each class mirrors one core neuron field by field (same names, same units: ms, mV, pA, pF,
nS) and adds bounds, slider ranges, labels and the cross-parameter checks a UI needs.
``build()`` returns the core ``eqx.Module``; every value is a traced array there, so a page
can rebuild the neuron on each slider move without recompiling.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ._base import ParamModel, number


def _tau_mem() -> Any:
    return number(
        10.0,
        bounds=(0.1, 1000.0),
        soft=(1.0, 100.0),
        step=0.5,
        unit="ms",
        label="τ_m",
        doc="Membrane time constant",
    )


def _tau_syn(default: float) -> Any:
    return number(
        default,
        bounds=(0.05, 500.0),
        soft=(0.5, 30.0),
        step=0.1,
        unit="ms",
        label="τ_syn",
        doc="Decay time constant of the synaptic current",
    )


def _c_mem(default: float) -> Any:
    return number(
        default,
        bounds=(1.0, 10_000.0),
        soft=(10.0, 1000.0),
        step=1.0,
        unit="pF",
        label="C_m",
        doc="Membrane capacitance",
    )


def _voltage(default: float, label: str, doc: str, soft=(-90.0, -30.0), bounds=(-150.0, 60.0)):
    return number(default, bounds=bounds, soft=soft, step=0.1, unit="mV", label=label, doc=doc)


def _t_ref(default: float) -> Any:
    return number(
        default,
        bounds=(0.0, 100.0),
        soft=(0.0, 10.0),
        step=0.1,
        unit="ms",
        label="t_ref",
        doc="Absolute refractory period (V held at v_reset)",
    )


def _adaptation(tau_w: float, a: float, b: float) -> tuple[Any, Any, Any]:
    return (
        number(
            tau_w,
            bounds=(0.5, 10_000.0),
            soft=(10.0, 1000.0),
            step=1.0,
            unit="ms",
            label="τ_w",
            doc="Time constant of the adaptation current w",
        ),
        number(
            a,
            bounds=(-100.0, 200.0),
            soft=(-10.0, 20.0),
            step=0.1,
            unit="nS",
            label="a",
            doc="Sub-threshold adaptation: coupling of w to V - v_rest",
        ),
        number(
            b,
            bounds=(-1000.0, 5000.0),
            soft=(0.0, 200.0),
            step=0.5,
            unit="pA",
            label="b",
            doc="Spike-triggered adaptation: jump of w at each spike",
        ),
    )


class NeuronModel(ParamModel):
    """A single-neuron parameter model; ``core_name`` names the class in ``snnviz.core.neurons``."""

    core_name: ClassVar[str]

    @classmethod
    def core_class(cls) -> type:
        """The matching ``snnviz.core.neurons`` class."""
        from snnviz.core import neurons

        return getattr(neurons, cls.core_name)

    def build(self) -> Any:
        """The core neuron with these values (after :meth:`validate`)."""
        self.validate()
        return self.core_class()(**self.values())

    def _require_below(self, low: str, high: str, hint: str) -> None:
        lo, hi = getattr(self, low), getattr(self, high)
        if not lo < hi:
            raise ValueError(
                f"{self.core_name}: `{low}` ({lo:g} {self.unit(low)}) must be below "
                f"`{high}` ({hi:g} {self.unit(high)}); {hint}"
            )


class LIFModel(NeuronModel):
    """Leaky integrate-and-fire neuron with an exponential synaptic current
    (:class:`snnviz.core.neurons.LIF`)."""

    model_name: ClassVar[str] = "lif"
    core_name: ClassVar[str] = "LIF"

    tau_mem = _tau_mem()
    tau_syn = _tau_syn(2.0)
    c_mem = _c_mem(250.0)
    v_rest = _voltage(-70.0, "E_L", "Resting (leak reversal) potential")
    v_reset = _voltage(-70.0, "V_reset", "Reset potential after a spike")
    v_th = _voltage(-50.0, "V_th", "Firing threshold", soft=(-70.0, -20.0))
    t_ref = _t_ref(2.0)

    def validate(self) -> None:
        self._require_below("v_reset", "v_th", "lower v_reset or raise v_th")


class AdLIFModel(LIFModel):
    """LIF plus a linear adaptation current (:class:`snnviz.core.neurons.AdLIF`)."""

    model_name: ClassVar[str] = "adlif"
    core_name: ClassVar[str] = "AdLIF"

    tau_w, a, b = _adaptation(100.0, 2.0, 40.0)


class AdExModel(NeuronModel):
    """Adaptive exponential integrate-and-fire neuron (Brette & Gerstner 2005;
    :class:`snnviz.core.neurons.AdEx`). Defaults are the paper's, with a 0 mV cut-off."""

    model_name: ClassVar[str] = "adex"
    core_name: ClassVar[str] = "AdEx"

    c_mem = _c_mem(281.0)
    g_leak = number(
        30.0,
        bounds=(0.1, 1000.0),
        soft=(1.0, 100.0),
        step=0.5,
        unit="nS",
        label="g_L",
        doc="Leak conductance",
    )
    v_rest = _voltage(-70.6, "E_L", "Leak reversal potential")
    v_th = _voltage(
        -50.4,
        "V_T",
        "Effective threshold: where the exponential spike current takes over",
        soft=(-70.0, -30.0),
    )
    delta_t = number(
        2.0,
        bounds=(0.05, 20.0),
        soft=(0.2, 10.0),
        step=0.05,
        unit="mV",
        label="Δ_T",
        doc="Slope factor (sharpness of spike initiation)",
    )
    v_peak = _voltage(
        0.0, "V_peak", "Spike cut-off: V is reset when it reaches this", soft=(-40.0, 40.0)
    )
    v_reset = _voltage(-70.6, "V_reset", "Reset potential after a spike")
    tau_w, a, b = _adaptation(144.0, 4.0, 80.5)
    tau_syn = _tau_syn(5.0)
    t_ref = _t_ref(0.0)

    def validate(self) -> None:
        self._require_below("v_th", "v_peak", "the spike cut-off must lie above V_T")
        self._require_below("v_reset", "v_peak", "the reset must lie below the spike cut-off")
