"""Surrogate-gradient spiking networks (SNNAX-style, Lohoff et al. 2024) in JAX + equinox.

``surrogate`` (Heaviside spikes with fast-sigmoid / arctan / triangle pseudo-derivatives as
``jax.custom_vjp``), ``layers`` (LIF, AdLIF, leaky readout; one step ``(state, x_t) ->
(state, out_t)``), ``network`` (:class:`SpikingSequential` over a whole sequence with
``lax.scan``), ``train`` (losses, optax steps, evaluation, ``fit``, Yin-Yang and digits runs).
"""

from .layers import AdLIFLayer as AdLIFLayer
from .layers import AdLIFState as AdLIFState
from .layers import LeakyReadout as LeakyReadout
from .layers import LIFLayer as LIFLayer
from .layers import LIFState as LIFState
from .layers import ReadoutState as ReadoutState
from .network import NEURON_MODELS as NEURON_MODELS
from .network import NetworkOutput as NetworkOutput
from .network import SpikingSequential as SpikingSequential
from .network import make_network as make_network
from .network import set_surrogate as set_surrogate
from .network import set_time_constants as set_time_constants
from .network import trainable_filter as trainable_filter
from .surrogate import SURROGATE_KINDS as SURROGATE_KINDS
from .surrogate import Surrogate as Surrogate
from .surrogate import arctan_spike as arctan_spike
from .surrogate import fast_sigmoid_spike as fast_sigmoid_spike
from .surrogate import heaviside as heaviside
from .surrogate import surrogate_derivative as surrogate_derivative
from .surrogate import triangle_spike as triangle_spike
from .train import DIGITS_FULL as DIGITS_FULL
from .train import DIGITS_QUICK as DIGITS_QUICK
from .train import READOUTS as READOUTS
from .train import YINYANG_FULL as YINYANG_FULL
from .train import YINYANG_QUICK as YINYANG_QUICK
from .train import DigitsConfig as DigitsConfig
from .train import Evaluation as Evaluation
from .train import StepMetrics as StepMetrics
from .train import TrainResult as TrainResult
from .train import YinYangConfig as YinYangConfig
from .train import batch_loss as batch_loss
from .train import batch_outputs as batch_outputs
from .train import decision_map as decision_map
from .train import digits_sets as digits_sets
from .train import evaluate as evaluate
from .train import fit as fit
from .train import get_learning_rate as get_learning_rate
from .train import init_optimizer as init_optimizer
from .train import make_optimizer as make_optimizer
from .train import predict as predict
from .train import readout_logits as readout_logits
from .train import set_learning_rate as set_learning_rate
from .train import train_digits as train_digits
from .train import train_step as train_step
from .train import train_steps as train_steps
from .train import train_yinyang as train_yinyang
from .train import trainable_arrays as trainable_arrays
from .train import yinyang_sets as yinyang_sets
