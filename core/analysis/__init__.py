"""Analysis of simulation output: spike-train statistics (numpy, vectorised over neurons)."""

from .spike_stats import cv_isi as cv_isi
from .spike_stats import fano_factor as fano_factor
from .spike_stats import firing_rates as firing_rates
from .spike_stats import isis as isis
from .spike_stats import mean_cv as mean_cv
from .spike_stats import mean_rate as mean_rate
from .spike_stats import population_rate as population_rate
from .spike_stats import spike_times as spike_times
from .spike_stats import synchrony_chi as synchrony_chi
