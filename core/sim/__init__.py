"""Time-stepped simulation: one jitted ``lax.scan`` per shape, chunked for streaming."""

from ._feedforward import FeedForwardLIF as FeedForwardLIF
from ._feedforward import FeedForwardState as FeedForwardState
from ._feedforward import default_capacity as default_capacity
from ._feedforward import feedforward_currents as feedforward_currents
from ._feedforward import run_feedforward as run_feedforward
from ._population import DrivenPopulation as DrivenPopulation
from ._population import PopulationState as PopulationState
from ._scan import AbstractSystem as AbstractSystem
from ._scan import advance as advance
from ._scan import simulate as simulate
from ._scan import simulate_chunked as simulate_chunked
