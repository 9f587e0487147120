"""Every demo notebook executes cleanly (nbclient, the venv's ipykernel, cwd = repository).

Also checks scripts/make_notebook.py: the notebook it writes for a stand-in page runs and
prints the page's verdicts.
"""

import importlib.util
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from snnviz import gallery
from tests.helpers import FAKE_PAGES

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO_ROOT / "demos").glob("*.ipynb"))
CELL_TIMEOUT_S = 600


def execute_notebook(path: Path) -> nbformat.NotebookNode:
    """Run every cell of ``path`` from the repository root; fail on an error output or a
    traceback written to stderr. Returns the executed notebook."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(REPO_ROOT)}},
    )
    try:
        client.execute()
    except CellExecutionError as err:
        pytest.fail(f"{path.name}: a cell raised\n{err}")
    problems = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                problems.append(f"cell {index}: {output.ename}: {output.evalue}")
            elif (
                output.output_type == "stream"
                and output.name == "stderr"
                and "Traceback" in output.text
            ):
                problems.append(f"cell {index} stderr:\n{output.text}")
    assert not problems, f"{path.name}:\n" + "\n".join(problems)
    return nb


def _stdout(nb: nbformat.NotebookNode) -> str:
    return "".join(
        o.text
        for c in nb.cells
        for o in c.get("outputs", [])
        if o.output_type == "stream" and o.name == "stdout"
    )


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_demo_notebook_runs(path):
    assert path.stem in gallery.PAGES, f"{path.name} belongs to no registered page"
    nb = execute_notebook(path)
    assert "PASS" in _stdout(nb) or "FAIL" in _stdout(nb)  # the reproduce cell printed verdicts


def _make_notebook_module():
    spec = importlib.util.spec_from_file_location(
        "make_notebook", REPO_ROOT / "scripts" / "make_notebook.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_make_notebook_writes_a_notebook_that_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(gallery, "PAGES", dict(FAKE_PAGES))
    make_notebook = _make_notebook_module()
    monkeypatch.setattr(make_notebook, "PAGES", gallery.PAGES)
    path = make_notebook.write_notebook("fake_pass", tmp_path)
    assert path == tmp_path / "fake_pass.ipynb"
    nb = nbformat.read(path, as_version=4)
    sources = [c.source for c in nb.cells]
    assert sources[0].startswith("# Fake page\n\nA stand-in page for registry tests.")
    assert "**Reference:** Nobody, 2026" in sources[0]
    assert sources[1] == "import panel as pn\n\npn.extension()"
    assert sources[2] == (
        "from tests.helpers import FakePage\n\npage = FakePage()\n"
        'page.panel().servable(title="Fake page")'
    )
    assert "value > 0" in sources[3]  # the claims are listed
    assert sources[4] == "result = page.reproduce(quick=True)\nprint(result.summary())"

    executed = execute_notebook(path)
    assert "PASS  value > 0: measured 1" in _stdout(executed)
    page_output = executed.cells[2].outputs
    assert any("text/html" in o.get("data", {}) for o in page_output), "the page did not render"
