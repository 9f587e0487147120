r"""Discrete-time spiking layers for surrogate-gradient training, usable like ``eqx.nn`` layers.

Every layer is an :class:`equinox.Module` holding its weights and its neuron constants as
arrays (time constants, threshold and ``dt`` are traced: a new value never recompiles), with

* ``init_state(batch_shape=())`` -> the state at rest, arrays of shape ``(*batch_shape, n_out)``;
* ``__call__(state, x_t) -> (state, out_t)``: one time step for input ``x_t``
  ``(*batch_shape, n_in)``;
* ``run(xs, state=None) -> (state, outs)``: a whole time-major sequence ``(T, *batch, n_in)``
  with :func:`jax.lax.scan`.

Units: time in ms; currents and membrane potentials in units of the threshold scale (the
threshold defaults to 1). Decays per step are exact for the continuous leak:
:math:`\alpha = e^{-\Delta t/\tau_\mathrm{mem}}`, :math:`\beta = e^{-\Delta t/\tau_\mathrm{syn}}`.

**LIF** (:class:`LIFLayer`), with :math:`s[t]` the layer's spikes of the previous step::

    I[t+1] = β I[t] + W x[t] + V s[t]                     (V: optional recurrent weights)
    U[t+1] = α U[t] + (1 - α) I[t+1] - θ s[t]             (reset="subtract")
    U[t+1] = α U[t] (1 - s[t]) + (1 - α) I[t+1]           (reset="zero")
    s[t+1] = H(U[t+1] - θ)                                (surrogate gradient backward)

The membrane input is scaled by :math:`(1-\alpha)`, so a constant current ``I`` drives ``U``
to ``I``: weights are in threshold units whatever the time constants. An input spike at step
``t`` can make an output spike in the same step (no delay per layer).

**AdLIF** (:class:`AdLIFLayer`, Bittar & Garner 2022; the form of PAPERS.md 1.2 with a
synaptic current in front), adaptation ``w`` with :math:`\gamma = e^{-\Delta t/\tau_w}`::

    U[t+1] = α U[t] + (1 - α) (I[t+1] - w[t]) - θ s[t]
    w[t+1] = γ w[t] + (1 - γ) (a U[t] + b s[t])

**Leaky readout** (:class:`LeakyReadout`): the LIF equations without threshold and reset; it
outputs the membrane ``U[t+1]``.

With ``detach_reset=True`` (default) the reset term carries no gradient (the spikes in the
reset are wrapped in :func:`jax.lax.stop_gradient`, as in snnTorch and Zenke & Vogels 2021);
the forward is unchanged. ``train_time_constants=True`` makes the time constants (and AdLIF's
``a``, ``b``) trainable (see :func:`snnviz.core.snn.trainable_filter`); the decays then use
:math:`\max(\tau, \Delta t/10)` so that an optimiser step can never make a decay exceed 1.
"""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .surrogate import Surrogate

__all__ = [
    "AdLIFLayer",
    "AdLIFState",
    "LIFLayer",
    "LIFState",
    "LeakyReadout",
    "ReadoutState",
]

RESETS = ("subtract", "zero")
#: Floor of a trainable time constant, as a fraction of ``dt`` (see module docstring).
MIN_TAU_FRACTION_OF_DT = 0.1


def _array(value: ArrayLike) -> Array:
    """A strongly typed float array (default float dtype): a Python scalar would be weakly
    typed, and a later strongly typed replacement would then recompile."""
    return jnp.asarray(value, dtype=float)


def _check(owner: str, name: str, value: Array, *, positive: bool) -> None:
    if isinstance(value, jax.core.Tracer):
        return
    v = np.asarray(value)
    if not np.all(np.isfinite(v)) or (positive and not np.all(v > 0)):
        kind = "a finite number > 0" if positive else "finite"
        raise ValueError(f"{owner}: `{name}` must be {kind}, got {v.tolist()}")


def _check_size(owner: str, name: str, value: Array, n: int) -> None:
    if value.ndim > 1 or (value.ndim == 1 and value.shape[0] != n):
        raise ValueError(
            f"{owner}: `{name}` must be a scalar or have shape ({n},) (one per neuron), "
            f"got shape {value.shape}"
        )


def _init_weight(key: PRNGKeyArray, n_out: int, n_in: int, scale: float) -> Array:
    """Normal weights with standard deviation ``scale / sqrt(n_in)`` (shape ``(n_out, n_in)``)."""
    return scale / np.sqrt(n_in) * jax.random.normal(key, (n_out, n_in), dtype=float)


def _like(param: Array, state: Array) -> Array:
    """A per-neuron (or scalar) constant broadcast to a state with batch axes (explicitly, so
    that ``jax_numpy_rank_promotion="raise"`` accepts it)."""
    return param if param.ndim == 0 else jnp.broadcast_to(param, state.shape)


def _decay(layer: eqx.Module, tau: Array) -> Array:
    r""":math:`e^{-\Delta t/\tau}`; a trainable ``tau`` is floored at ``dt / 10``."""
    if layer.train_time_constants:
        tau = jnp.maximum(tau, MIN_TAU_FRACTION_OF_DT * layer.dt)
    return jnp.exp(-layer.dt / tau)


class _Layer(eqx.Module):
    """What every layer shares: dense input weights, optional recurrent weights, synaptic and
    membrane time constants, :meth:`run` over a sequence."""

    #: True for layers that emit spikes (recorded by :class:`~.network.SpikingSequential`).
    emits_spikes: ClassVar[bool] = True
    #: Field names trained when ``train_time_constants`` is set.
    time_constant_fields: ClassVar[tuple[str, ...]] = ("tau_mem", "tau_syn")

    weight: Float[Array, "n_out n_in"]
    recurrent_weight: Float[Array, "n_out n_out"] | None
    tau_mem: Float[Array, "*n_out"]
    tau_syn: Float[Array, "*n_out"]
    dt: Float[Array, ""]
    train_time_constants: bool = eqx.field(static=True)

    @property
    def n_in(self) -> int:
        return self.weight.shape[1]

    @property
    def n_out(self) -> int:
        return self.weight.shape[0]

    @property
    def recurrent(self) -> bool:
        return self.recurrent_weight is not None

    def _check_common(self, owner: str) -> None:
        for name in ("tau_mem", "tau_syn", "dt"):
            _check(owner, name, getattr(self, name), positive=True)
        for name in ("tau_mem", "tau_syn"):
            _check_size(owner, name, getattr(self, name), self.n_out)
        if self.dt.ndim != 0:
            raise ValueError(f"{owner}: `dt` must be a scalar, got shape {self.dt.shape}")

    def decays(self) -> tuple[Array, Array]:
        r"""``(alpha, beta)`` = :math:`(e^{-\Delta t/\tau_\mathrm{mem}}, e^{-\Delta t/\tau_\mathrm{syn}})`."""
        return _decay(self, self.tau_mem), _decay(self, self.tau_syn)

    def feedforward(self, x: Float[Array, "*batch n_in"]) -> Float[Array, "*batch n_out"]:
        """The input current jump :math:`W x` for any leading axes (time, batch)."""
        return x @ self.weight.T

    def _synaptic_current(self, current: Array, drive: Array, spikes: Array, beta: Array) -> Array:
        current = _like(beta, current) * current + drive
        if self.recurrent_weight is not None:
            current = current + spikes @ self.recurrent_weight.T
        return current

    def advance(self, state, drive: Float[Array, "*batch n_out"]):
        """One step given the feed-forward drive :math:`W x[t]` (see :meth:`__call__`)."""
        raise NotImplementedError

    def __call__(self, state, x_t: Float[Array, "*batch n_in"]):
        """One time step: ``(state, x_t (*batch, n_in)) -> (state, out_t (*batch, n_out))``.

        Drive it over a sequence with ``jax.lax.scan(lambda s, x: layer(s, x),
        layer.init_state(), xs)`` (scan hashes the function it is given, and a module holding
        arrays is not hashable, hence the lambda), or use :meth:`run`."""
        return self.advance(state, self.feedforward(x_t))

    def run(self, xs: Float[Array, "T *batch n_in"], state=None):
        """Run a time-major sequence: ``xs`` (T, *batch, n_in) -> ``(final state, outs (T,
        *batch, n_out))``; starts from rest unless ``state`` is given."""
        if state is None:
            state = self.init_state(xs.shape[1:-1])

        def step(carry, x_t):
            return self(carry, x_t)

        return jax.lax.scan(step, state, xs)


class LIFState(eqx.Module):
    """State of a :class:`LIFLayer`: synaptic ``current`` I, ``membrane`` U, and the
    ``spikes`` s emitted in the last step (needed for reset and recurrence)."""

    current: Float[Array, "*batch n"]
    membrane: Float[Array, "*batch n"]
    spikes: Float[Array, "*batch n"]


class LIFLayer(_Layer):
    r"""Current-based LIF neurons with exact-decay discrete dynamics (equations in the module
    docstring), surrogate-gradient spikes, subtractive or zero reset, optional recurrence.

    **Arguments:** ``n_in``, ``n_out`` sizes; ``key`` for the weights (normal, standard
    deviation ``weight_scale / sqrt(fan_in)``); ``recurrent`` adds an ``(n_out, n_out)``
    recurrent matrix (scale ``recurrent_scale``); ``tau_mem``, ``tau_syn`` (ms, scalar or one per
    neuron), ``threshold`` θ, ``dt`` (ms); ``surrogate`` (default SuperSpike, slope 10);
    ``reset`` ``"subtract"`` or ``"zero"``; ``detach_reset``; ``train_time_constants``.

    >>> layer = LIFLayer(5, 100, key=jax.random.key(0))
    >>> state, spikes = jax.lax.scan(lambda s, x: layer(s, x), layer.init_state(), xs)
    >>> state, spikes = layer.run(xs)  # the same, xs (T, 5)
    """

    threshold: Float[Array, "*n_out"]
    surrogate: Surrogate
    reset: str = eqx.field(static=True)
    detach_reset: bool = eqx.field(static=True)

    def __init__(
        self,
        n_in: int,
        n_out: int,
        *,
        key: PRNGKeyArray,
        recurrent: bool = False,
        tau_mem: ArrayLike = 10.0,
        tau_syn: ArrayLike = 5.0,
        threshold: ArrayLike = 1.0,
        dt: ArrayLike = 1.0,
        surrogate: Surrogate | None = None,
        reset: str = "subtract",
        detach_reset: bool = True,
        weight_scale: float = 1.0,
        recurrent_scale: float = 0.5,
        train_time_constants: bool = False,
    ):
        w_key, r_key = jax.random.split(key)
        self.weight = _init_weight(w_key, n_out, n_in, weight_scale)
        self.recurrent_weight = (
            _init_weight(r_key, n_out, n_out, recurrent_scale) if recurrent else None
        )
        self.tau_mem, self.tau_syn = _array(tau_mem), _array(tau_syn)
        self.threshold, self.dt = _array(threshold), _array(dt)
        self.surrogate = Surrogate() if surrogate is None else surrogate
        self.reset, self.detach_reset = reset, bool(detach_reset)
        self.train_time_constants = bool(train_time_constants)

    def __check_init__(self) -> None:
        owner = type(self).__name__
        self._check_common(owner)
        _check(owner, "threshold", self.threshold, positive=True)
        _check_size(owner, "threshold", self.threshold, self.n_out)
        if self.reset not in RESETS:
            raise ValueError(f"{owner}: `reset` must be one of {RESETS}, got {self.reset!r}")

    def init_state(self, batch_shape: tuple[int, ...] = ()) -> LIFState:
        """Rest: zero current, membrane and spikes, shape ``(*batch_shape, n_out)``."""
        zeros = jnp.zeros((*batch_shape, self.n_out), self.weight.dtype)
        return LIFState(current=zeros, membrane=zeros, spikes=zeros)

    def _reset_spikes(self, spikes: Array) -> Array:
        return jax.lax.stop_gradient(spikes) if self.detach_reset else spikes

    def _membrane(self, u: Array, current: Array, spikes: Array, alpha: Array) -> Array:
        alpha, theta = _like(alpha, u), _like(self.threshold, u)
        reset_spikes = self._reset_spikes(spikes)
        if self.reset == "subtract":
            return alpha * u + (1.0 - alpha) * current - theta * reset_spikes
        return alpha * u * (1.0 - reset_spikes) + (1.0 - alpha) * current

    def _fire(self, u: Array) -> Array:
        return self.surrogate(u - _like(self.threshold, u))

    def advance(
        self, state: LIFState, drive: Float[Array, "*batch n_out"]
    ) -> tuple[LIFState, Float[Array, "*batch n_out"]]:
        """One step given the feed-forward drive ``W x[t]``; returns the new spikes."""
        alpha, beta = self.decays()
        current = self._synaptic_current(state.current, drive, state.spikes, beta)
        membrane = self._membrane(state.membrane, current, state.spikes, alpha)
        spikes = self._fire(membrane)
        return LIFState(current=current, membrane=membrane, spikes=spikes), spikes


class AdLIFState(eqx.Module):
    """State of an :class:`AdLIFLayer`: that of LIF plus the ``adaptation`` variable w."""

    current: Float[Array, "*batch n"]
    membrane: Float[Array, "*batch n"]
    adaptation: Float[Array, "*batch n"]
    spikes: Float[Array, "*batch n"]


class AdLIFLayer(LIFLayer):
    r"""Adaptive LIF: :class:`LIFLayer` plus an adaptation variable ``w`` subtracted from the
    input (equations in the module docstring). Extra arguments: ``tau_adapt`` (ms), ``a``
    (sub-threshold coupling, dimensionless) and ``b`` (spike-triggered, threshold units);
    a, b > 0 adapt (fewer spikes for sustained input), ``a < 0`` can make neurons resonate.
    """

    time_constant_fields: ClassVar[tuple[str, ...]] = ("tau_mem", "tau_syn", "tau_adapt", "a", "b")

    tau_adapt: Float[Array, "*n_out"]
    a: Float[Array, "*n_out"]
    b: Float[Array, "*n_out"]

    def __init__(
        self,
        n_in: int,
        n_out: int,
        *,
        key: PRNGKeyArray,
        tau_adapt: ArrayLike = 100.0,
        a: ArrayLike = 0.5,
        b: ArrayLike = 1.0,
        **lif_kwargs,
    ):
        super().__init__(n_in, n_out, key=key, **lif_kwargs)
        self.tau_adapt, self.a, self.b = _array(tau_adapt), _array(a), _array(b)

    def __check_init__(self) -> None:
        owner = type(self).__name__
        _check(owner, "tau_adapt", self.tau_adapt, positive=True)
        _check(owner, "a", self.a, positive=False)
        _check(owner, "b", self.b, positive=False)
        for name in ("tau_adapt", "a", "b"):
            _check_size(owner, name, getattr(self, name), self.n_out)

    def init_state(self, batch_shape: tuple[int, ...] = ()) -> AdLIFState:
        """Rest: all zeros, shape ``(*batch_shape, n_out)``."""
        zeros = jnp.zeros((*batch_shape, self.n_out), self.weight.dtype)
        return AdLIFState(current=zeros, membrane=zeros, adaptation=zeros, spikes=zeros)

    def advance(
        self, state: AdLIFState, drive: Float[Array, "*batch n_out"]
    ) -> tuple[AdLIFState, Float[Array, "*batch n_out"]]:
        """One step given the feed-forward drive ``W x[t]``; returns the new spikes."""
        alpha, beta = self.decays()
        u, w, s = state.membrane, state.adaptation, state.spikes
        gamma = _like(_decay(self, self.tau_adapt), w)
        current = self._synaptic_current(state.current, drive, s, beta)
        membrane = self._membrane(u, current - w, s, alpha)
        adaptation = gamma * w + (1.0 - gamma) * (_like(self.a, u) * u + _like(self.b, s) * s)
        spikes = self._fire(membrane)
        new = AdLIFState(current=current, membrane=membrane, adaptation=adaptation, spikes=spikes)
        return new, spikes


class ReadoutState(eqx.Module):
    """State of a :class:`LeakyReadout`: synaptic ``current`` and ``membrane``."""

    current: Float[Array, "*batch n"]
    membrane: Float[Array, "*batch n"]


class LeakyReadout(_Layer):
    r"""Non-spiking leaky integrators (the usual readout): :math:`I[t+1] = \beta I[t] + W x[t]`,
    :math:`U[t+1] = \alpha U[t] + (1-\alpha) I[t+1]`; the output is the membrane ``U[t+1]``.

    Arguments as :class:`LIFLayer` (no threshold, reset, surrogate or recurrence).
    """

    emits_spikes: ClassVar[bool] = False

    def __init__(
        self,
        n_in: int,
        n_out: int,
        *,
        key: PRNGKeyArray,
        tau_mem: ArrayLike = 10.0,
        tau_syn: ArrayLike = 5.0,
        dt: ArrayLike = 1.0,
        weight_scale: float = 1.0,
        train_time_constants: bool = False,
    ):
        self.weight = _init_weight(key, n_out, n_in, weight_scale)
        self.recurrent_weight = None
        self.tau_mem, self.tau_syn, self.dt = _array(tau_mem), _array(tau_syn), _array(dt)
        self.train_time_constants = bool(train_time_constants)

    def __check_init__(self) -> None:
        self._check_common(type(self).__name__)

    def init_state(self, batch_shape: tuple[int, ...] = ()) -> ReadoutState:
        """Rest: zero current and membrane, shape ``(*batch_shape, n_out)``."""
        zeros = jnp.zeros((*batch_shape, self.n_out), self.weight.dtype)
        return ReadoutState(current=zeros, membrane=zeros)

    def advance(
        self, state: ReadoutState, drive: Float[Array, "*batch n_out"]
    ) -> tuple[ReadoutState, Float[Array, "*batch n_out"]]:
        """One step given the feed-forward drive ``W x[t]``; returns the membrane."""
        alpha, beta = self.decays()
        current = _like(beta, state.current) * state.current + drive
        alpha = _like(alpha, current)
        membrane = alpha * state.membrane + (1.0 - alpha) * current
        return ReadoutState(current=current, membrane=membrane), membrane
