r"""Parameter model of Brunel's (2000) sparse E/I network, model A
(:class:`snnviz.core.network.BrunelNetwork`).

``N_E = 0.8 n`` excitatory and ``N_I = 0.2 n`` inhibitory LIF neurons (``tau_mem``, threshold
``v_th`` and reset ``v_reset`` measured from rest, refractory ``t_ref``); each receives
``C_E = 0.1 N_E`` excitatory synapses of PSP size ``J`` and ``C_I = 0.1 N_I`` inhibitory ones
of size ``-gJ``, all with transmission delay ``D``, plus external Poisson input at
``ν_ext = η ν_thr`` with :math:`\nu_\mathrm{thr} = \theta / (J C_E \tau)`.
Reference: N. Brunel, J. Comput. Neurosci. 8:183 (2000), doi:10.1023/A:1008925309027.
"""

from __future__ import annotations

from typing import Any, ClassVar

import param

from ._base import ParamModel, integer, number

TRACED = ("g", "eta", "j_mv", "delay_ms", "tau_mem", "v_th", "v_reset", "t_ref", "dt")
EPSILON = 0.1  # connection probability of model A
C_E_PAPER = 1000  # excitatory in-degree of the paper's Fig. 8 network (N_E = 10,000)
MAX_DELAY_MS = 10.0  # the network's delay ring covers every delay the slider allows


class BrunelModel(ParamModel):
    """Brunel 2000 model A. ``n_neurons`` and ``seed`` fix the connectivity and ``dt`` the
    length of the delay ring (changing one builds a new network, see :meth:`structure_key`);
    the other parameters are traced values: apply them with :meth:`update_network`."""

    model_name: ClassVar[str] = "brunel"
    aliases: ClassVar[tuple[str, ...]] = ("brunel2000", "brunel_network", "brunelnetwork")

    n_neurons = integer(
        2500,
        bounds=(50, 12_500),
        soft=(100, 10_000),
        label="neurons",
        doc="Network size N = N_E + N_I (N_E = 0.8 N, N_I = 0.2 N)",
    )
    seed = integer(
        0,
        bounds=(0, 2**31 - 1),
        soft=(0, 100),
        label="seed",
        doc="Seed of the connectivity and the external Poisson input",
    )
    g = number(
        5.0,
        bounds=(0.0, 20.0),
        soft=(0.0, 8.0),
        step=0.1,
        unit="",
        label="g = J_I / J_E",
        doc="Relative strength of inhibition",
    )
    eta = number(
        2.0,
        bounds=(0.0, 10.0),
        soft=(0.0, 4.0),
        step=0.05,
        unit="",
        label="η = ν_ext / ν_thr",
        doc="External Poisson rate relative to the rate that reaches threshold alone",
    )
    j_mv = number(
        0.1,
        bounds=(0.001, 5.0),
        soft=(0.01, 0.5),
        step=0.01,
        unit="mV",
        label="J",
        doc="EPSP amplitude (at the paper's in-degree C_E = 1000 when scale_j_with_size is on)",
    )
    delay_ms = number(
        1.5,
        bounds=(0.01, MAX_DELAY_MS),
        soft=(0.1, 5.0),
        step=0.1,
        unit="ms",
        label="D",
        doc="Synaptic transmission delay",
    )
    tau_mem = number(
        20.0,
        bounds=(0.5, 200.0),
        soft=(5.0, 50.0),
        step=0.5,
        unit="ms",
        label="τ_m",
        doc="Membrane time constant",
    )
    v_th = number(
        20.0,
        bounds=(0.1, 100.0),
        soft=(5.0, 40.0),
        step=0.5,
        unit="mV",
        label="θ",
        doc="Firing threshold, measured from rest",
    )
    v_reset = number(
        10.0,
        bounds=(-50.0, 100.0),
        soft=(0.0, 20.0),
        step=0.5,
        unit="mV",
        label="V_r",
        doc="Reset potential, measured from rest",
    )
    t_ref = number(
        2.0,
        bounds=(0.0, 50.0),
        soft=(0.0, 5.0),
        step=0.1,
        unit="ms",
        label="τ_rp",
        doc="Absolute refractory period",
    )
    dt = number(
        0.1,
        bounds=(0.01, 1.0),
        soft=(0.05, 0.5),
        step=0.01,
        unit="ms",
        label="dt",
        doc="Integration time step",
    )

    scale_j_with_size = param.Boolean(
        True,
        label="keep J·C_E at the paper's value",
        doc=(
            "Scale the EPSP to J·1000/C_E so that the mean input and the E/I balance match the "
            "paper's in-degree C_E = 1000 whatever N (fluctuations grow as 1/sqrt(C_E)); off: "
            "use J as given (a small network then fires far too regularly and fast)"
        ),
    )

    @property
    def c_exc(self) -> int:
        """Excitatory in-degree ``C_E = round(0.1 round(0.8 N))`` (as the core draws it)."""
        return round(EPSILON * round(0.8 * self.n_neurons))

    @property
    def effective_j_mv(self) -> float:
        """The EPSP the network uses: ``j_mv`` or, when scaled, ``j_mv * C_E_PAPER / C_E``."""
        if self.scale_j_with_size:
            return self.j_mv * C_E_PAPER / self.c_exc
        return self.j_mv

    def validate(self) -> None:
        if not self.v_reset < self.v_th:
            raise ValueError(
                f"Brunel network: the reset `v_reset` ({self.v_reset:g} mV) must be below the "
                f"threshold `v_th` ({self.v_th:g} mV); lower V_r or raise θ"
            )
        if self.delay_ms < self.dt:
            raise ValueError(
                f"Brunel network: the delay `delay_ms` ({self.delay_ms:g} ms) must be at least "
                f"one time step `dt` ({self.dt:g} ms); lengthen the delay or shorten dt"
            )

    def traced_values(self) -> dict[str, float]:
        """The parameters that are traced arrays in the core network (never recompile)."""
        values = {name: getattr(self, name) for name in TRACED}
        values["j_mv"] = self.effective_j_mv
        return values

    def structure_key(self) -> tuple:
        """``("brunel", n_neurons, seed, dt)``: the connectivity is drawn once per size and
        seed, and the delay ring holds ``MAX_DELAY_MS / dt`` steps."""
        return (self.model_name, self.n_neurons, self.seed, self.dt)

    def update_network(self, network: Any) -> Any:
        """``network`` (built from the same :meth:`structure_key`) with this model's traced
        values: same connectivity, same compiled code."""
        self.validate()
        return network.with_params(**self.traced_values())

    def build(self) -> Any:
        """``BrunelNetwork.build(n_neurons, key=key(seed), max_delay_ms=MAX_DELAY_MS,
        **traced_values())``."""
        self.validate()
        import jax

        from snnviz.core.network import BrunelNetwork

        return BrunelNetwork.build(
            self.n_neurons, key=jax.random.key(self.seed), **self.traced_values()
        )
