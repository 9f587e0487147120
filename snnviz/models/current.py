r"""Injected-current protocols: constant, step and sine, building
:class:`snnviz.core.inputs.CurrentInjection`.

.. math::

    \text{constant: } I(t) = A \qquad
    \text{step: } I(t) = I_\mathrm{hold} + A\,[t_\mathrm{on} \le t < t_\mathrm{off}] \qquad
    \text{sine: } I(t) = A + I_\sin \sin(2\pi f t)

with :math:`A` = ``amplitude`` (pA), :math:`I_\mathrm{hold}` = ``baseline`` (pA),
:math:`I_\sin` = ``sine_amplitude`` (pA), :math:`f` = ``sine_freq_hz`` (Hz), times in ms.
Every field of ``CurrentInjection`` is traced, so switching ``kind`` never recompiles.
"""

from __future__ import annotations

from typing import Any, ClassVar

import param

from ._base import ParamModel, number

KINDS = ("constant", "step", "sine")


class CurrentProtocol(ParamModel):
    """A current-injection protocol. Only the parameters in :meth:`active_params` matter for
    the chosen ``kind``; the others keep their values for when the kind changes back."""

    model_name: ClassVar[str] = "current"
    aliases: ClassVar[tuple[str, ...]] = ("current_protocol", "currentinjection")

    kind = param.Selector(
        default="step",
        objects=list(KINDS),
        label="Protocol",
        doc="Shape of the injected current: constant, step or sine",
    )
    amplitude = number(
        500.0,
        bounds=(-10_000.0, 10_000.0),
        soft=(-200.0, 1500.0),
        step=5.0,
        unit="pA",
        label="I",
        doc="Constant level, step height above the baseline, or sine offset",
    )
    baseline = number(
        0.0,
        bounds=(-10_000.0, 10_000.0),
        soft=(-200.0, 500.0),
        step=5.0,
        unit="pA",
        label="I_hold",
        doc="Holding current outside the step window (step protocol)",
    )
    t_on = number(
        50.0,
        bounds=(0.0, 1e6),
        soft=(0.0, 1000.0),
        step=1.0,
        unit="ms",
        label="t_on",
        doc="Step onset (step protocol)",
    )
    t_off = number(
        450.0,
        bounds=(0.0, 1e6),
        soft=(0.0, 2000.0),
        step=1.0,
        unit="ms",
        label="t_off",
        doc="Step offset (step protocol)",
    )
    sine_amplitude = number(
        100.0,
        bounds=(0.0, 10_000.0),
        soft=(0.0, 1000.0),
        step=5.0,
        unit="pA",
        label="I_sin",
        doc="Amplitude of the sine (sine protocol)",
    )
    sine_freq_hz = number(
        5.0,
        bounds=(0.0, 1000.0),
        soft=(0.1, 50.0),
        step=0.1,
        unit="Hz",
        label="f",
        doc="Frequency of the sine (sine protocol)",
    )

    _ACTIVE: ClassVar[dict[str, tuple[str, ...]]] = {
        "constant": ("kind", "amplitude"),
        "step": ("kind", "amplitude", "baseline", "t_on", "t_off"),
        "sine": ("kind", "amplitude", "sine_amplitude", "sine_freq_hz"),
    }

    def active_params(self) -> tuple[str, ...]:
        """The parameters that shape the current for the current ``kind`` (show only these)."""
        return self._ACTIVE[self.kind]

    def validate(self) -> None:
        if self.kind == "step" and not self.t_on < self.t_off:
            raise ValueError(
                f"step current: `t_on` ({self.t_on:g} ms) must be before `t_off` "
                f"({self.t_off:g} ms); move the onset earlier or the offset later"
            )

    def build(self, amplitude: Any = None) -> Any:
        """The :class:`~snnviz.core.inputs.CurrentInjection` for this protocol.

        ``amplitude`` (pA, scalar or per-neuron array) replaces ``self.amplitude``, e.g. one
        value per neuron for an f-I curve.
        """
        from snnviz.core.inputs import CurrentInjection

        self.validate()
        amp = self.amplitude if amplitude is None else amplitude
        if self.kind == "constant":
            return CurrentInjection(offset=amp)
        if self.kind == "step":
            return CurrentInjection(
                offset=self.baseline, step=amp, t_on=self.t_on, t_off=self.t_off
            )
        return CurrentInjection(
            offset=amp, sine_amplitude=self.sine_amplitude, sine_freq_hz=self.sine_freq_hz
        )

    def stimulus_window(self, duration_ms: float) -> tuple[float, float]:
        """``(on, off)`` in ms of the stimulus within a run of ``duration_ms`` (a constant or
        sine current is on all run long): the window a firing pattern is read from."""
        if self.kind == "step":
            return float(self.t_on), float(min(self.t_off, duration_ms))
        return 0.0, float(duration_ms)

    def structure_key(self) -> tuple:
        """Nothing is static: every protocol is the same traced ``CurrentInjection``."""
        return (self.model_name,)

    @classmethod
    def from_preset(cls, preset: Any) -> CurrentProtocol:
        """The protocol stored under ``preset["current"]`` (defaults when it is null/absent);
        a bare dict of protocol values is accepted too."""
        is_preset = "params" in preset or "model" in preset
        values = (preset.get("current") or {}) if is_preset else preset
        return cls(**cls._coerce_params(values, f"current of preset {preset.get('name')!r}"))

    def apply_preset(self, preset: Any) -> None:
        """Set this protocol from ``preset["current"]`` in place (all-or-nothing)."""
        values = type(self).from_preset(preset).values()
        self.param.update(**values)
