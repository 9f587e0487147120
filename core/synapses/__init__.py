"""Synapses: connectivity tables, transmission delays and event-driven spike propagation.

``connectivity`` builds fan-in tables (fixed fan-in, E/I) and derives dense weight matrices,
bit-packed fan-out rows and padded fan-out lists from them; ``delays`` holds the
:class:`DelayRing` (whole-step delays, traced delay value, static maximum); ``events`` does
event-driven propagation that touches only spiking neurons and never drops a spike.
"""

from .connectivity import FanOut as FanOut
from .connectivity import adjacency_rows as adjacency_rows
from .connectivity import dense_weights as dense_weights
from .connectivity import ei_fan_in as ei_fan_in
from .connectivity import ei_presyn_weights as ei_presyn_weights
from .connectivity import fan_out_lists as fan_out_lists
from .connectivity import fixed_fan_in as fixed_fan_in
from .connectivity import numpy_rng as numpy_rng
from .connectivity import packed_rows as packed_rows
from .connectivity import packed_width as packed_width
from .delays import DelayRing as DelayRing
from .delays import delay_steps as delay_steps
from .events import active_indices as active_indices
from .events import dense_input as dense_input
from .events import for_each_active as for_each_active
from .events import lists_input as lists_input
from .events import rows_input as rows_input
