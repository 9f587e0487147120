"""Time-stepped simulation: one jitted ``lax.scan`` per shape, chunked for streaming."""

from ._population import DrivenPopulation as DrivenPopulation
from ._population import PopulationState as PopulationState
from ._scan import AbstractSystem as AbstractSystem
from ._scan import advance as advance
from ._scan import simulate as simulate
