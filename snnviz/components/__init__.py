"""Reusable Panel pieces for live pages: the run loop, live plots, controls, feedback, export.

* :class:`LiveLoop` runs a chunked simulation in step with the wall clock (frames come from the
  process-wide :class:`FrameScheduler`; slow chunks run on a worker pool).
* :class:`LiveTraces`, :class:`LiveRaster`, :class:`LiveRate`: raw-Bokeh streaming plots.
* :class:`RunControls`: play/pause, step, reset, speed for a LiveLoop.
* :class:`ProgressReporter`, :class:`ErrorBanner`: thread-safe user feedback.
* :class:`ExportPanel` and the ``to_csv_bytes`` / ``to_npz_bytes`` / ``preset_json`` /
  ``figure_html`` helpers.

Example page (records per chunk: ``{"t": (T,), "v": (T, N), "spikes": (T, N)}``)::

    import panel as pn
    from snnviz.components import ErrorBanner, LiveLoop, LiveRaster, LiveTraces, RunControls

    traces = LiveTraces([f"neuron {i}" for i in range(4)], window_ms=1000)
    raster = LiveRaster(n_neurons=sim.n, window_ms=1000, x_range=traces.figure.x_range)
    banner = ErrorBanner()

    def push(chunks):
        t = [c["t"] for c in chunks]
        traces.push(t, [c["v"][:, :4] for c in chunks])
        raster.push(t, [c["spikes"] for c in chunks])

    def reset():
        sim.reset(); traces.reset(); raster.reset(); banner.clear()

    loop = LiveLoop(sim.advance, push, chunk_ms=sim.chunk_ms, on_reset=reset, on_error=banner.show)
    pn.Column(RunControls(loop), banner, traces, raster).servable()
"""

from .controls import RunControls as RunControls
from .export import ExportPanel as ExportPanel
from .export import apply_preset as apply_preset
from .export import figure_html as figure_html
from .export import preset_dict as preset_dict
from .export import preset_json as preset_json
from .export import to_csv_bytes as to_csv_bytes
from .export import to_npz_bytes as to_npz_bytes
from .feedback import ErrorBanner as ErrorBanner
from .feedback import ProgressReporter as ProgressReporter
from .live_loop import LiveLoop as LiveLoop
from .live_plots import LiveRaster as LiveRaster
from .live_plots import LiveRate as LiveRate
from .live_plots import LiveTraces as LiveTraces
from .scheduler import FrameScheduler as FrameScheduler
from .scheduler import SchedulerStats as SchedulerStats
from .scheduler import get_scheduler as get_scheduler
from .scheduler import worker_pool as worker_pool
from .training import LearningCurves as LearningCurves
from .training import LiveCurves as LiveCurves
from .training import Trainer as Trainer
from .training import TrainingDiverged as TrainingDiverged
from .training import TrainingSession as TrainingSession
from .training import TrainingUpdate as TrainingUpdate
from .training import format_readout as format_readout
