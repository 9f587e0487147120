"""Neuron models. Each has parameters (an equinox module of arrays), a state, ``init_state``
and ``discretise(dt)`` returning a one-step function ``step(state, syn_in, i_ext)``."""

from .adex import AdEx as AdEx
from .adex import AdExState as AdExState
from .adex import AdExStep as AdExStep
from .adlif import AdLIF as AdLIF
from .adlif import AdLIFState as AdLIFState
from .lif import LIF as LIF
from .lif import LIFState as LIFState
from .lif import threshold_and_reset as threshold_and_reset
