"""Parameter model of a finite-state machine embedded in a VSA attractor network
(:mod:`snnviz.core.vsa.fsm`) and of its weight non-idealities (:mod:`snnviz.core.vsa.nonideal`).

The FSM, its size, the number of neurons and the seed fix the codes and the weight matrix
(:meth:`VSAFSMModel.structure_key`: changing one rebuilds and compiles once for the new shapes).
The non-idealities, the update probability and the presentation timing are traced values or
plain Python numbers: moving them never recompiles.
Reference: Cotteret et al., Neural Comput. 36:549 (2024), arXiv:2212.01196; Cotteret et al.,
Neuromorph. Comput. Eng. 5:014008 (2025), arXiv:2405.01305.
"""

from __future__ import annotations

from typing import Any, ClassVar

import param

from snnviz.core.vsa.fsm import FSM, builtin_fsm
from snnviz.core.vsa.nonideal import FLOAT_BITS, WeightNonideality

from ._base import ParamModel, integer, number

FSM_KINDS = ("traffic light", "parity", "random")
STRUCTURE = ("fsm", "n_states", "n_inputs", "n_neurons", "seed")
WEIGHTS = ("weight_bits", "sparsity", "noise", "device_variation")


class VSAFSMModel(ParamModel):
    """An FSM in an attractor network of ``n_neurons`` binary neurons with non-ideal weights."""

    model_name: ClassVar[str] = "vsa_fsm"
    aliases: ClassVar[tuple[str, ...]] = ("vsafsm", "fsm_attractor")

    fsm = param.Selector(
        objects=list(FSM_KINDS),
        default="traffic light",
        label="state machine",
        doc="Which FSM to embed: a pedestrian traffic light, a parity checker, or a random FSM",
    )
    n_states = integer(
        50,
        bounds=(2, 400),
        soft=(4, 120),
        label="states (random FSM)",
        doc="Number of states of the random FSM (dimensionless)",
    )
    n_inputs = integer(
        2,
        bounds=(1, 8),
        soft=(1, 4),
        label="input symbols (random FSM)",
        doc="Number of input symbols of the random FSM (dimensionless)",
    )
    n_neurons = integer(
        2048,
        bounds=(64, 8192),
        soft=(256, 6144),
        label="neurons N",
        doc="Network size = hypervector dimension. Capacity grows linearly with N "
        "(a 50-state random FSM needs about N = 4096)",
    )
    seed = integer(
        0,
        bounds=(0, 2**31 - 1),
        soft=(0, 100),
        label="seed",
        doc="Seed of the random FSM, the hypervectors and the weight non-idealities",
    )
    weight_bits = integer(
        16,
        bounds=(1, 16),
        soft=(1, 16),
        label="weight bits (16 = float)",
        doc="Symmetric uniform quantisation of the weights with one scale per matrix "
        "(1 = binary; 16 = unquantised float32)",
    )
    sparsity = number(
        0.0,
        bounds=(0.0, 0.99),
        soft=(0.0, 0.99),
        step=0.01,
        unit="",
        label="sparsity (fraction removed)",
        doc="Fraction of synapses removed at random (dimensionless)",
    )
    noise = number(
        0.0,
        bounds=(0.0, 20.0),
        soft=(0.0, 3.0),
        step=0.05,
        unit="× std W",
        label="weight noise σ",
        doc="Frozen additive Gaussian weight noise relative to the std of the weights",
    )
    device_variation = number(
        0.0,
        bounds=(0.0, 2.0),
        soft=(0.0, 1.0),
        step=0.05,
        unit="",
        label="device variation σ (lognormal)",
        doc="Multiplicative lognormal conductance variation per synapse, mean-preserving "
        "(dimensionless sigma of the log)",
    )
    update_prob = number(
        1.0,
        bounds=(0.01, 1.0),
        soft=(0.05, 1.0),
        step=0.01,
        unit="",
        label="update probability per step",
        doc="Probability that a neuron updates at a step (1 = synchronous as in the paper; "
        "< 1 = asynchronous, Sec. IV-C) (dimensionless)",
    )
    steps_a = integer(
        3,
        bounds=(1, 50),
        soft=(1, 20),
        label="steps of s_a",
        doc="Update steps the first stimulus of an input is shown (source -> edge state)",
    )
    steps_b = integer(
        3,
        bounds=(1, 50),
        soft=(1, 20),
        label="steps of s_b",
        doc="Update steps the second stimulus is shown (edge state -> target)",
    )
    steps_rest = integer(
        8,
        bounds=(0, 200),
        soft=(0, 40),
        label="steps without input",
        doc="Update steps with no input after each symbol: the state must persist",
    )

    def validate(self) -> None:
        """An asynchronous network must have time to finish a transition: each stimulus phase
        must last at least half the mean time between two updates of a neuron."""
        if self.update_prob * min(self.steps_a, self.steps_b) < 0.5:
            raise ValueError(
                f"with update probability {self.update_prob:g} a neuron updates on average "
                f"every {1 / self.update_prob:.0f} steps, but s_a / s_b are shown for only "
                f"{self.steps_a} / {self.steps_b} steps: raise them to at least "
                f"{int(0.5 / self.update_prob + 0.999)} or raise the update probability"
            )

    def build(self) -> FSM:
        """The FSM (the codes and weights are built by the page from it)."""
        self.validate()
        return builtin_fsm(self.fsm, n_states=self.n_states, n_inputs=self.n_inputs, seed=self.seed)

    def nonideality(self) -> WeightNonideality:
        """The weight non-idealities as traced values (no recompilation when they change)."""
        bits = FLOAT_BITS if self.weight_bits >= 16 else float(self.weight_bits)
        return WeightNonideality(
            bits=bits,
            keep=1.0 - float(self.sparsity),
            noise=float(self.noise),
            lognormal=float(self.device_variation),
        )

    def ideal_weights(self) -> bool:
        """True when no non-ideality is active (the ideal matrix can be used as is)."""
        return (
            self.weight_bits >= 16
            and self.sparsity == 0
            and self.noise == 0
            and self.device_variation == 0
        )

    def structure_key(self) -> tuple[Any, ...]:
        """The FSM and the shapes: changing these draws new codes and recompiles once."""
        random_size = (self.n_states, self.n_inputs) if self.fsm == "random" else ()
        return (self.fsm, *random_size, self.n_neurons, self.seed)
