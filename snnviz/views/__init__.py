"""Views: functions that turn NumPy arrays into HoloViews elements (bokeh backend, no Panel).

Every view returns a styled element (responsive width, fixed height, labelled axes with units,
hover) that can be shown in a notebook, put in a Panel layout, overlaid (``*``) or exported.
Live, per-frame streaming plots are not here: see :mod:`snnviz.components.live_plots`.

Example::

    import numpy as np
    from snnviz.views import membrane_traces, spike_events, spike_raster, population_rate

    t_ms = 0.1 * np.arange(v.shape[0])
    times, ids = spike_events(spikes, t_ms)
    (membrane_traces(t_ms, v, neurons=[0, 1, 2])
     + spike_raster(times, ids, n_neurons=spikes.shape[1])
     + population_rate(times, n_neurons=spikes.shape[1], bin_ms=5)).cols(1)
"""

from snnviz.core.analysis.events import bin_spike_counts as bin_spike_counts
from snnviz.core.analysis.events import interspike_intervals as interspike_intervals
from snnviz.core.analysis.events import isi_cv as isi_cv
from snnviz.core.analysis.events import population_rate_hz as population_rate_hz
from snnviz.core.analysis.events import spike_events as spike_events

from .fi import fi_curve as fi_curve
from .phase_plane import flow_arrows as flow_arrows
from .phase_plane import phase_plane as phase_plane
from .raster import spike_raster as spike_raster
from .rates import cv_histogram as cv_histogram
from .rates import isi_histogram as isi_histogram
from .rates import population_rate as population_rate
from .traces import membrane_traces as membrane_traces
from .training import adjoint_events as adjoint_events
from .training import decision_map as decision_map
from .training import events_by_layer as events_by_layer
from .training import history_columns as history_columns
from .training import learning_curves as learning_curves
from .training import metrics_columns as metrics_columns
from .training import metrics_table as metrics_table
from .training import spike_raster_sample as spike_raster_sample
from .training import weight_histograms as weight_histograms
