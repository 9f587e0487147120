"""The grid-cell (GC-VSA) page headless: it builds, the live loop streams the walk, slider
moves never recompile, code changes re-anchor the integrators, sizes rebuild, bad values show a
banner, rate maps and gridness update, and the quick reproduction passes."""

from __future__ import annotations

import numpy as np
import panel as pn
import pytest

import snnviz.pages.krausse2025_grid_cells as gc_page
from snnviz.models.grid_cells import GridCellsModel
from snnviz.pages.krausse2025_grid_cells import GridCellsPage, shown_cells
from tests.helpers import count_compilations


@pytest.fixture(scope="module")
def page():
    page = GridCellsPage()
    page.loop._offload = False  # run chunks inline: no worker thread, no event loop needed
    return page


def _labels(viewable) -> set[str]:
    return {
        b.label
        for b in viewable.select(lambda o: isinstance(o, pn.widgets.Button | pn.widgets.Toggle))
    }


def test_page_builds_with_its_controls(page):
    labels = _labels(page.panel())
    for label in ("▶ Play", "Step", "Reset", "Reproduce (quick)"):
        assert label in labels, labels


def test_stepping_the_loop_streams_the_walk_and_both_decoders(page):
    page.loop.reset()
    for _ in range(3):
        page.loop.step()
    assert page.loop.chunks_run == 3
    path = page.arena.path.data
    assert len(path["x"]) == 3 * gc_page.CHUNK_STEPS
    assert page.arena.markers.data["label"] == ["agent", "phasor", "spiking"]
    errors = page.errors.source.data
    assert len(errors["t"]) == 3 * gc_page.CHUNK_STEPS
    assert max(errors["phasor"]) < 0.5 and max(errors["spiking"]) < 2.0  # cm, noise-free
    assert "phasor error" in page.readout.object and "spiking error" in page.readout.object


def test_slider_moves_do_not_recompile_and_code_moves_reanchor(page):
    page._advance_chunk()
    epoch = page._epoch
    with count_compilations() as log:
        page.model.phase_noise = 0.1
        page.model.velocity_noise = 0.01
        page.model.cleanup = False
        page.model.mean_speed = 0.2
        page.model.coinc_window_ms = 2.0
        chunk = page._advance_chunk()
        assert chunk["epoch"] == epoch  # noise/speed moves keep the walk and the maps
        page.model.smallest_scale = 0.3
        page.model.scale_ratio = 1.5
        chunk = page._advance_chunk()
    assert log.matching("walk_and_decode") == 0, log.names
    assert chunk["epoch"] > epoch and page._acc.samples == gc_page.CHUNK_STEPS
    assert float(page._nav.code.scales[1]) == pytest.approx(0.45)
    assert np.max(chunk["error_phasor"]) < 0.02  # re-anchored at the true position
    page.model.param.update(
        phase_noise=0.0,
        velocity_noise=0.0,
        cleanup=True,
        mean_speed=0.3,
        coinc_window_ms=6.0,
        smallest_scale=0.25,
        scale_ratio=1.4,
    )


def test_bad_values_pause_with_a_banner(page):
    page.loop.play()
    page.model.dim = 12  # fewer components than module axes
    assert not page.loop.running
    assert "below the 36 module axes" in page.banner.message
    page.model.dim = 1024
    assert not page.banner.visible
    page.model.dt_ms = 100.0  # 4 cm per step: aliasing on the finest module (0.25 m)
    assert "phase step" in page.banner.message
    page.model.dt_ms = 20.0
    assert not page.banner.visible
    page.loop.pause()


def test_rate_maps_and_gridness_update_at_a_low_rate(page, monkeypatch):
    monkeypatch.setattr(gc_page, "GRIDNESS_EVERY", 3)
    monkeypatch.setattr(gc_page, "MIN_SAMPLES_FOR_GRIDNESS", 10)
    page.loop.reset()
    chunks = [page._advance_chunk() for _ in range(6)]
    assert sum("maps" in c for c in chunks) == 2  # chunks 1 and 6 (every MAPS_EVERY)
    assert sum("autocorrs" in c for c in chunks) == 2  # chunks 3 and 6
    page._push(chunks)
    image = page.rate_maps.sources[0].data["image"][0]
    assert image.shape == (gc_page.N_BINS, gc_page.N_BINS) and np.isfinite(image).any()
    ac = page.autocorrs.sources[0].data["image"][0]
    assert ac.shape == (2 * gc_page.N_BINS - 1,) * 2
    assert page.autocorrs.figures[0].title.text.startswith("gridness")
    page.realisation = "spiking"
    assert page.rate_maps.figures[0].title.text.startswith("spiking 0.25 m")
    page.realisation = "phasor"


def test_a_new_size_rebuilds_on_reset(page):
    page.model.cells_per_module = 3
    chunk = page._advance_chunk()
    assert page._nav.cells.n_cells == 36 and page._acc.n_cells == 36
    assert len(chunk["xy"]) == gc_page.CHUNK_STEPS
    assert shown_cells(page.model) == [0, 9, 18, 27]
    page.model.cells_per_module = 2
    page._advance_chunk()


def test_model_builds_the_navigator_with_its_values():
    model = GridCellsModel(
        dim=600,
        n_scales=2,
        n_orientations=2,
        smallest_scale=0.3,
        scale_ratio=1.5,
        phase_noise=0.05,
        cleanup=False,
    )
    nav = model.build()
    assert nav.code.dim == 600 and nav.code.n_modules == 4 and nav.n_sub == 40
    np.testing.assert_allclose(np.asarray(nav.code.scales), [0.3, 0.45], rtol=1e-6)
    assert float(nav.phase_noise) == pytest.approx(0.05) and float(nav.cleanup) == 0.0
    assert model.structure_key() != GridCellsModel(dim=512).structure_key()
    assert model.code_key() != GridCellsModel(**{**model.values(), "scale_ratio": 1.6}).code_key()


@pytest.mark.slow
def test_quick_reproduce_passes():
    result = GridCellsPage().reproduce(quick=True)
    assert result.passed, result.summary()
    m = result.metrics
    assert m["pi_max_error_phasor_cm"] < m["pi_max_error_spiking_cm"] < 5.0
    assert m["noisy_raw_mean_error_phasor_cm"] > 10 * m["noisy_cleanup_mean_error_phasor_cm"]
    for key in ("rate_maps_phasor", "rate_maps_spiking", "errors", "path", "gridness_phasor"):
        assert key in result.figures
