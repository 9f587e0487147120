"""Write the demo notebook ``demos/<slug>.ipynb`` of a registered page.

    python scripts/make_notebook.py neuron_lab [network_lab ...]
    python scripts/make_notebook.py --all

The notebook is generated from the page class (title, summary, reference, claims), so it
never drifts from the page: it shows the live page and runs the quick reproduction. Outputs
are not stored; tests/notebooks/test_notebooks.py executes every notebook.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from snnviz.gallery import PAGES, REPO_ROOT, load_page

DEMOS = REPO_ROOT / "demos"


def notebook_for(slug: str) -> nbformat.NotebookNode:
    """The notebook of page ``slug``: intro, live page, reproduction."""
    cls = load_page(slug)
    module, _, class_name = PAGES[slug].partition(":")
    claims = "\n".join(f"- **{c.key}**: paper: {c.paper}; we check: {c.check}" for c in cls.claims)
    cells = [
        new_markdown_cell(
            f"# {cls.title}\n\n{cls.summary}\n\n**Reference:** {cls.reference}\n\n"
            f"This is the same page the gallery serves (`snnviz serve`, then open "
            f"`?page={slug}`); the controls drive the simulation live."
        ),
        new_code_cell("import panel as pn\n\npn.extension()"),
        # .servable(): displayed here, and served by `panel serve demos/<slug>.ipynb`
        new_code_cell(
            f"from {module} import {class_name}\n\npage = {class_name}()\n"
            f"page.panel().servable(title={json.dumps(cls.title)})"  # as ruff formats it
        ),
        new_markdown_cell(
            "## Reproduce\n\n`page.reproduce(quick=True)` recomputes the result headless "
            "(seeded, under a minute on two CPU cores; `quick=False` is the fuller run) and "
            "compares it with the paper's claims. The same run is "
            f"`snnviz reproduce {slug}` on the command line.\n\n{claims}"
        ),
        new_code_cell("result = page.reproduce(quick=True)\nprint(result.summary())"),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def write_notebook(slug: str, folder: Path = DEMOS) -> Path:
    """Write ``<folder>/<slug>.ipynb`` (validated against the nbformat schema)."""
    nb = notebook_for(slug)
    nbformat.validate(nb)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{slug}.ipynb"
    nbformat.write(nb, path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("slugs", nargs="*", metavar="SLUG", help=f"one of {', '.join(PAGES)}")
    parser.add_argument("--all", action="store_true", help="every registered page")
    parser.add_argument("--out", type=Path, default=DEMOS, help="output folder (default demos/)")
    args = parser.parse_args(argv)
    slugs = list(PAGES) if args.all else args.slugs
    unknown = [s for s in slugs if s not in PAGES]
    if not slugs or unknown:
        parser.error(f"unknown or missing page(s) {unknown}; known pages: {', '.join(PAGES)}")
    for slug in slugs:
        print(write_notebook(slug, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
