"""Every registered page in a real browser: plots render without errors, controls reach the
server and the plots follow (Neuron lab slider, Network lab play/pause streaming)."""

from __future__ import annotations

import re

import pytest

from snnviz.gallery import PAGES

pytestmark = pytest.mark.browser

# Visible danger alerts (the page's error banner, or the gallery's "failed to build" card).
_ALERTS_JS = """
() => snnviz.models()
  .filter(m => (m.css_classes || []).includes("alert-danger") && m.visible && m.text)
  .map(m => m.text)
"""

# The Neuron lab's membrane trace: the largest rendered source with `t` and `v` columns; spikes are drawn
# up to the cut-off, so upward crossings of -20 mV count them.
_TRACE_JS = """
() => {
  if (!(window.Bokeh && Bokeh.documents.length > 0 && window.snnviz)) return null;
  const srcs = snnviz.renderedSources().filter(s => "t" in s.data && "v" in s.data);
  if (!srcs.length) return null;
  const src = srcs.reduce((a, b) => (b.data.v.length > a.data.v.length ? b : a));
  const v = src.data.v;
  let sum = 0, spikes = 0;
  for (let i = 0; i < v.length; i++) {
    sum += v[i];
    if (v[i] > -20 && (i === 0 || v[i - 1] <= -20)) spikes += 1;
  }
  return {id: src.id, n: v.length, sum: sum, spikes: spikes};
}
"""

# Data updates (stream, patch or new data) per source since `t0` (performance.now() ms), and
# the readout's simulated time.
_UPDATES_SINCE_JS = """
(t0) => {
  const per = {};
  for (const [t, id] of snnviz.updates) if (t >= t0) per[id] = (per[id] || 0) + 1;
  return per;
}
"""
# Hide one legend entry (a stand-in renderer with a JS callback) and count the hidden renderers.
_HIDE_LEGEND_ENTRY_JS = """
async () => {
  const renderers = snnviz.models().filter(m => m.type === "GlyphRenderer");
  const hidden = () => renderers.filter(r => !r.visible).length;
  const before = hidden();
  const standins = renderers.filter(r => Object.keys(r.js_property_callbacks || {}).length);
  if (!standins.length) return null;
  standins[0].visible = false;
  await new Promise(resolve => setTimeout(resolve, 300));
  return {before: before, after: hidden(), standins: standins.length};
}
"""
_READOUT_T_JS = r"""
() => {
  for (const m of snnviz.models()) {
    const text = typeof m.text === "string" ? m.text : "";
    const hit = text.match(/t = ([0-9.]+) s \u00b7 g = /);
    if (hit) return parseFloat(hit[1]);
  }
  return null;
}
"""


@pytest.mark.parametrize("slug", list(PAGES))
def test_page_renders_without_errors(browser_page, app_url: str, slug: str) -> None:
    bp = browser_page
    bp.open(f"{app_url}?page={slug}", canvases=1)
    bp.screenshot(slug)
    alerts = bp.js(_ALERTS_JS)
    assert not alerts, f"{slug} shows an error: {alerts}"
    n_plots = bp.js("() => snnviz.plots().length")
    n_canvases = bp.js("() => snnviz.visibleCanvases().length")
    assert n_plots >= 1 and n_canvases >= n_plots, (n_plots, n_canvases)
    bp.assert_no_errors()


def test_neuron_lab_slider_resimulates(browser_page, app_url: str) -> None:
    bp = browser_page
    bp.open(f"{app_url}?page=neuron_lab", canvases=3)
    bp.page.wait_for_function(f"() => {{ const r = ({_TRACE_JS})(); return r && r.n > 100; }}")
    before = bp.js(_TRACE_JS)
    assert before["spikes"] >= 1, before  # the default step current makes the neuron fire
    found = bp.js(
        "() => { const s = snnviz.sliders('I (pA)'); if (s.length) s[0].value = 900; "
        "return s.length; }"
    )
    assert found == 1, "no 'I (pA)' slider on the Neuron lab"
    # the page re-simulates on the server and the new trace arrives in the browser
    bp.page.wait_for_function(
        f"(old) => {{ const r = ({_TRACE_JS})(); return r && (r.sum !== old.sum || r.id !== old.id); }}",
        arg=before,
        timeout=30_000,
        polling=50,
    )
    after = bp.js(_TRACE_JS)
    bp.screenshot("neuron_lab_after_slider")
    # more depolarising current -> more spikes during the step (AdEx f-I curve is increasing)
    assert after["spikes"] > before["spikes"], (before, after)
    # the URL follows (its update is a separate server -> browser message: wait, don't race it)
    bp.page.wait_for_function(
        "() => window.location.href.includes('amplitude=900')", timeout=10_000
    )
    assert "page=neuron_lab" in bp.page.url
    bp.assert_no_errors()


@pytest.mark.slow  # ~10 s: page load, a 3 s counting window, pause
def test_network_lab_streams_while_playing(browser_page, app_url: str) -> None:
    bp = browser_page
    bp.open(f"{app_url}?page=network_lab", canvases=3)
    assert bp.js("() => snnviz.hookUpdates()") >= 3
    bp.page.get_by_role("button", name=re.compile("Play")).click()
    bp.page.wait_for_function(
        "() => window.snnviz && snnviz.updates.length > 0", timeout=30_000, polling=50
    )
    t_sim0 = bp.js(_READOUT_T_JS)
    t0 = bp.js("() => performance.now()")
    bp.page.wait_for_timeout(3000)  # a counting window: frames delivered over ~3 s of wall time
    per_source = bp.js(_UPDATES_SINCE_JS, t0)
    elapsed_s = (bp.js("() => performance.now()") - t0) / 1000
    t_sim1 = bp.js(_READOUT_T_JS)
    bp.screenshot("network_lab_playing")
    frames = max(per_source.values(), default=0)
    assert len(per_source) >= 3, f"only {len(per_source)} sources updated: {per_source}"
    assert frames >= 6, f"{frames} frames in {elapsed_s:.1f} s ({per_source})"
    assert t_sim0 is not None and t_sim1 is not None and t_sim1 > t_sim0, (t_sim0, t_sim1)

    bp.page.get_by_role("button", name=re.compile("Pause")).click()
    bp.page.get_by_role("button", name=re.compile("Play")).wait_for(timeout=10_000)
    # paused: the updates stop (a chunk already computing may still land)
    bp.page.wait_for_function(
        "() => performance.now() - snnviz.updates[snnviz.updates.length - 1][0] > 600",
        timeout=10_000,
        polling=100,
    )
    t_paused = bp.js(_READOUT_T_JS)
    n_paused = bp.js("() => snnviz.updates.length")
    bp.page.wait_for_timeout(500)
    assert bp.js("() => snnviz.updates.length") == n_paused
    assert bp.js(_READOUT_T_JS) == t_paused
    # the traces' legend shows stand-ins (so streams do not rebuild it); hiding one (a legend
    # click) hides its line too
    hid = bp.js(_HIDE_LEGEND_ENTRY_JS)
    assert hid is not None and hid["standins"] == 4, hid
    assert hid["after"] == hid["before"] + 2, hid
    bp.assert_no_errors()
