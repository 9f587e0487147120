"""The NeuroBench page (yik2025_neurobench): definitions on a hand-computed layer, the page,
and the table of the training pages' models."""

import pytest

from snnviz.pages.yik2025_neurobench import MODELS, NeuroBenchPage, reference_case, table_row


def test_reference_layer_gives_the_hand_computed_numbers():
    ref = reference_case()
    assert ref["dense"] == 50  # 10 inputs x 5 outputs x 1 step
    assert ref["effective_acs"] == 15  # 3 active rows x 5 non-zero weights
    assert ref["effective_macs_graded"] == 20  # 4 non-zero graded inputs x 5
    assert ref["connection_sparsity"] == pytest.approx(1 / 50)
    assert ref["footprint"] == 10 * 5 * 4


def test_every_training_page_model_is_listed_and_the_page_builds():
    from snnviz import gallery

    assert {m.page for m in MODELS} <= set(gallery.PAGES)
    page = NeuroBenchPage()
    page.panel()
    assert "effective ACs 15" in page.definitions.object


@pytest.mark.slow  # trains three small models
def test_reproduce_measures_every_model():
    result = NeuroBenchPage().reproduce(quick=True)
    verdicts = {v.claim.key: v for v in result.claims}
    for key in ("definitions", "complete", "trained"):
        assert verdicts[key].passed, result.summary()
    reports = result.metrics["reports"]
    assert [r["model"] for r in reports] == [m.name for m in MODELS]
    for r in reports:
        ops = r["synaptic_operations"]
        assert ops["Effective_ACs"] + ops["Effective_MACs"] <= ops["Dense"]
        assert table_row(r)["Model"] == r["model"]
