r"""Parameter model of the bee path-integration circuit (:mod:`snnviz.core.navigation`).

``circuit`` picks the realisation: Stone et al.'s **rate** model, the **spiking** (LIF) circuit,
or the **emulated BrainScaleS-2** circuit (AdEx, 6-bit synapses, fixed-pattern mismatch,
1000x accelerated clock; a software emulation, not hardware). ``circuit``, ``n_substeps`` and
``n_outbound`` fix the compiled shapes (:meth:`BeeModel.structure_key`); every other value is
a traced array, so a slider move never recompiles. Reference: Stone et al. (2017) Current
Biology 27:3069; Schreiber et al. (2023) arXiv:2401.00473.
"""

from __future__ import annotations

from typing import ClassVar

import param

from snnviz.core.navigation import RateCX
from snnviz.core.navigation.bss2 import emulated_bss2_cx
from snnviz.core.navigation.circuit import AbstractCircuit
from snnviz.core.navigation.spiking import spiking_cx

from ._base import ParamModel, integer, number

CIRCUITS = ("rate", "spiking", "emulated BSS-2")
#: agent steps per compiled journey chunk: the live page's frame and the reproduction's example
#: paths share one compiled program
CHUNK_STEPS = 25


class BeeModel(ParamModel):
    """The circuit, its noise and hardware non-idealities, and the journey lengths."""

    model_name: ClassVar[str] = "bee_cx"
    aliases: ClassVar[tuple[str, ...]] = ("bee", "central_complex")
    STRUCTURE: ClassVar[tuple[str, ...]] = ("circuit", "n_substeps", "n_outbound")

    circuit = param.Selector(
        objects=list(CIRCUITS),
        default="rate",
        label="circuit",
        doc="Rate model (Stone et al. 2017), spiking LIF circuit, or the spiking AdEx circuit "
        "on an emulated BrainScaleS-2 (software emulation, not hardware)",
    )
    noise = number(
        0.1,
        bounds=(0.0, 1.0),
        soft=(0.0, 0.5),
        unit="",
        label="neuron noise",
        step=0.01,
        doc="Rate noise of every cell (rate model: output SD; spiking: input-current noise "
        "of the same size in sigmoid units) (dimensionless)",
    )
    memory_leak = number(
        0.0,
        bounds=(0.0, 0.1),
        soft=(0.0, 0.01),
        unit="1/step",
        label="memory leak",
        step=0.0005,
        doc="Relaxation of the CPU4 memory toward 0.5 per agent step (time constant 1/leak)",
    )
    turn_gain = number(
        1.0,
        bounds=(0.0, 10.0),
        soft=(0.1, 3.0),
        unit="rad",
        label="turn gain",
        step=0.05,
        doc="Turn per unit of motor output during homing",
    )
    mismatch = number(
        0.05,
        bounds=(0.0, 1.0),
        soft=(0.0, 0.3),
        unit="",
        label="mismatch σ (BSS-2)",
        step=0.01,
        doc="Relative fixed-pattern spread of neuron and synapse parameters on the emulated "
        "chip (dimensionless)",
    )
    weight_bits = number(
        6.0,
        bounds=(0.0, 12.0),
        soft=(0.0, 8.0),
        unit="bit",
        label="weight bits (BSS-2)",
        step=1.0,
        doc="Synapse resolution on the emulated chip: 2^bits - 1 levels per sign; 0 = analog",
    )
    chip_seed = integer(
        0,
        bounds=(0, 2**31 - 1),
        soft=(0, 20),
        label="chip seed",
        doc="Which emulated chip (its mismatch pattern)",
    )
    n_substeps = integer(
        20,
        bounds=(2, 100),
        soft=(5, 40),
        label="neuron steps per agent step",
        doc="Spiking circuits: 1 ms neuron steps per agent step (agent step = n x 1 ms)",
    )
    n_outbound = integer(
        1500,
        bounds=(10, 10000),
        soft=(100, 3000),
        label="outbound steps",
        doc="Length of the foraging route",
    )
    n_inbound = integer(
        1500,
        bounds=(10, 10000),
        soft=(100, 3000),
        label="inbound steps",
        doc="Steps of free homing flight",
    )
    route_seed = integer(
        0,
        bounds=(0, 2**31 - 1),
        soft=(0, 100),
        label="route seed",
        doc="First random route and noise seed",
    )

    def validate(self) -> None:
        """Cross-parameter checks (none beyond the bounds at present)."""
        if self.weight_bits != round(self.weight_bits):
            raise ValueError(
                f"BeeModel: weight bits must be a whole number, got {self.weight_bits}"
            )

    def build(self) -> AbstractCircuit:
        """The circuit for the current values (calibration of spiking circuits is cached)."""
        self.validate()
        common = dict(noise=self.noise, memory_leak=self.memory_leak, turn_gain=self.turn_gain)
        if self.circuit == "rate":
            return RateCX(**common)
        if self.circuit == "spiking":
            return spiking_cx(n_substeps=self.n_substeps, **common)
        return emulated_bss2_cx(
            mismatch=self.mismatch,
            weight_bits=self.weight_bits,
            seed=self.chip_seed,
            n_substeps=self.n_substeps,
            **common,
        )

    def structure_key(self) -> tuple:
        """Rebuild and compile once when the realisation or a shape changes."""
        return (self.circuit, self.n_substeps, self.n_outbound)
