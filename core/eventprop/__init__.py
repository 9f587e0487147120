"""EventProp (Wunderlich & Pehle 2021): exact event-based simulation of current-based LIF
networks (closed-form threshold crossings, ``tau_mem = 2 tau_syn``) and exact gradients of
spike-time losses by the adjoint method, exposed as a ``jax.custom_vjp`` per layer.

``lif_events`` (forward), ``adjoint`` (EventProp backward), ``network`` (input -> hidden ->
output with a time-to-first-spike readout), ``loss`` (TTFS cross-entropy), ``train``
(Yin-Yang with optax), ``diagnostics`` (one sample's spikes and adjoint events, gradient
check, bits read out).
"""

from .adjoint import LayerAdjoint as LayerAdjoint
from .adjoint import adjoint_trace as adjoint_trace
from .adjoint import layer_adjoint as layer_adjoint
from .adjoint import layer_spike_times as layer_spike_times
from .diagnostics import gradient_check as gradient_check
from .diagnostics import readout_bits as readout_bits
from .diagnostics import readout_bits_for as readout_bits_for
from .diagnostics import sample_events as sample_events
from .lif_events import LIFEvent as LIFEvent
from .lif_events import crossing_delay as crossing_delay
from .lif_events import layer_forward as layer_forward
from .lif_events import membrane_potential as membrane_potential
from .loss import predict as predict
from .loss import ttfs_cross_entropy as ttfs_cross_entropy
from .network import EventNetwork as EventNetwork
from .network import NetworkSpikes as NetworkSpikes
from .network import Weights as Weights
from .network import init_weights as init_weights
from .train import FULL as FULL
from .train import QUICK as QUICK
from .train import LossParams as LossParams
from .train import TrainResult as TrainResult
from .train import YinYangConfig as YinYangConfig
from .train import batch_loss as batch_loss
from .train import decision_map as decision_map
from .train import evaluate as evaluate
from .train import make_optimizer as make_optimizer
from .train import train_epoch as train_epoch
from .train import train_yinyang as train_yinyang
from .train import yinyang_sets as yinyang_sets
