"""Insect navigation: the central-complex path integrator (Stone et al. 2017) as a rate model,
a spiking model and an emulated BrainScaleS-2 circuit, driving a simulated bee on foraging
journeys; an evolution strategy tunes the circuit."""

from .agent import (
    AgentState,
    Route,
    heading_vector,
    init_agent,
    move,
    random_route,
    replay_route,
    wrap_angle,
)
from .circuit import POPULATIONS, AbstractCircuit, CXOutput, CXState, TunedCircuit, optic_flow
from .journey import (
    HOMING_THRESHOLD,
    JourneyRecord,
    JourneyState,
    JourneySummary,
    advance_journey,
    distance_scale,
    init_journey,
    journey_step,
    random_routes,
    run_journeys,
    run_population,
    stack_circuits,
    summarise,
)
from .rate import RateCX
from .wiring import decode_memory

__all__ = [
    "HOMING_THRESHOLD",
    "POPULATIONS",
    "AbstractCircuit",
    "AgentState",
    "CXOutput",
    "CXState",
    "JourneyRecord",
    "JourneyState",
    "JourneySummary",
    "RateCX",
    "Route",
    "TunedCircuit",
    "advance_journey",
    "decode_memory",
    "distance_scale",
    "heading_vector",
    "init_agent",
    "init_journey",
    "journey_step",
    "move",
    "optic_flow",
    "random_route",
    "random_routes",
    "replay_route",
    "run_journeys",
    "run_population",
    "stack_circuits",
    "summarise",
    "wrap_angle",
]
