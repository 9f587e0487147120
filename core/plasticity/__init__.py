"""Synaptic plasticity: local learning rules, a Loihi-style fixed-point learning engine and
meta-learning of rule hyperparameters for one-shot learning (Stewart et al. 2024).

* :mod:`.rules`: pair-based STDP, Hebbian with decay, the error-triggered three-factor rule
  (SOEL) — pure functions ``rule(pre, post, third_factor, weight) -> dW``;
* :mod:`.fixedpoint`: stochastic rounding, fixed-point grids, power-of-two rates, integer
  trace decay (straight-through gradients);
* :mod:`.loihi`: the same rules on an emulated learning engine (integer weights and traces);
* :mod:`.readout`: a plastic LIF readout that learns new classes while examples are shown;
* :mod:`.features`: event data and the frozen spiking feature extractor;
* :mod:`.meta`: episodes, meta-training, evaluation, hand tuning and transfer baselines;
* :mod:`.experiment`: the whole experiment, cached per process.

>>> from snnviz.core.plasticity import ThreeFactor, PlasticReadout, prepare
"""

from .experiment import METHODS as METHODS
from .experiment import SPLITS as SPLITS
from .experiment import ChipSpec as ChipSpec
from .experiment import EpisodeTrace as EpisodeTrace
from .experiment import OneShotConfig as OneShotConfig
from .experiment import OneShotSetup as OneShotSetup
from .experiment import compare as compare
from .experiment import is_prepared as is_prepared
from .experiment import prepare as prepare
from .experiment import trace_episode as trace_episode
from .features import DataConfig as DataConfig
from .features import EventData as EventData
from .features import ExtractorConfig as ExtractorConfig
from .features import FeatureSet as FeatureSet
from .features import extract_features as extract_features
from .features import make_event_data as make_event_data
from .features import train_extractor as train_extractor
from .loihi import LoihiConfig as LoihiConfig
from .loihi import chip_rule as chip_rule
from .loihi import chip_trace_step as chip_trace_step
from .loihi import chip_update as chip_update
from .loihi import quantise_weights as quantise_weights
from .loihi import weight_mantissa as weight_mantissa
from .meta import Episodes as Episodes
from .meta import MetaConfig as MetaConfig
from .meta import MetaParams as MetaParams
from .meta import MetaResult as MetaResult
from .meta import episode_accuracy as episode_accuracy
from .meta import evaluate_rule as evaluate_rule
from .meta import evaluate_transfer as evaluate_transfer
from .meta import evaluation_episodes as evaluation_episodes
from .meta import hand_tune as hand_tune
from .meta import meta_loss as meta_loss
from .meta import meta_train as meta_train
from .meta import run_episode as run_episode
from .meta import sample_episodes as sample_episodes
from .meta import transfer_episode_accuracy as transfer_episode_accuracy
from .meta import tune_transfer_learning_rate as tune_transfer_learning_rate
from .readout import PlasticReadout as PlasticReadout
from .readout import Presentation as Presentation
from .readout import predict_scores as predict_scores
from .rules import STDP as STDP
from .rules import Hebbian as Hebbian
from .rules import Post as Post
from .rules import Pre as Pre
from .rules import Rule as Rule
from .rules import ThreeFactor as ThreeFactor
from .rules import stdp_window as stdp_window
from .rules import trace_decay as trace_decay
from .rules import update_trace as update_trace
