"""DelGrad: exact gradients for weights and delays in time-to-first-spike networks.

Göltz, Weber, Kriener, Lake, Payvand & Petrovici, *Nat. Commun.* 16 (2025),
doi:10.1038/s41467-025-63120-y. ``ttfs`` has the closed-form first-spike time
(``τ_m = 2τ_s``), ``delays`` the axonal / dendritic / synaptic delay layouts, ``network`` a
layered TTFS network, ``tasks`` the generated data sets (Yin-Yang, interval discrimination),
``train`` the optax training loop and ``experiments`` the weights-only vs weights+delays
comparisons (``compare_delays``, ``accuracy_vs_parameters``).
"""

from .delays import DELAY_TYPES as DELAY_TYPES
from .delays import arrival_times as arrival_times
from .delays import delay_shape as delay_shape
from .network import TTFSNetwork as TTFSNetwork
from .network import layer_spike_times as layer_spike_times
from .network import layer_spikes_and_peaks as layer_spikes_and_peaks
from .train import LossConfig as LossConfig
from .train import TrainResult as TrainResult
from .train import evaluate as evaluate
from .train import train as train
from .ttfs import SpikeAndPeak as SpikeAndPeak
from .ttfs import TTFSNeuron as TTFSNeuron
from .ttfs import causal_set as causal_set
from .ttfs import first_spike_and_peak as first_spike_and_peak
from .ttfs import first_spike_time as first_spike_time
from .ttfs import membrane_potential as membrane_potential
from .ttfs import psp_kernel as psp_kernel
from .ttfs import spike_time_sensitivities as spike_time_sensitivities
