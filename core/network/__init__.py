"""Spiking networks built from the engine's neurons and synapses."""

from .brunel import REGIMES as REGIMES
from .brunel import BrunelNetwork as BrunelNetwork
from .brunel import BrunelState as BrunelState
