"""The ``snnviz`` command: list the pages, serve the gallery, reproduce results headless.

::

    snnviz list
    snnviz serve [--port 5006] [--address 127.0.0.1] [--show]
    snnviz reproduce NAME [NAME ...] | --all  [--full] [--report out.html]
                     [--workers N | --scheduler ADDRESS]

``reproduce`` prints, for every claim, what the paper reports, what we measured and PASS/FAIL;
progress goes to stderr. Several pages fan out over Dask (``dask.distributed``): a LocalCluster
of ``--workers`` processes (default: one per CPU core, at most one per page), or the Dask
scheduler at ``--scheduler``; ``--workers 0`` runs them one after another in this process. Exit codes: 0 all claims pass, 1 a claim failed or a page crashed,
2 usage error (e.g. an unknown page; the message lists the known ones).
"""

from __future__ import annotations

import argparse
import datetime
import html
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from . import gallery
from .serving import APP_DIR, serve_command

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_VERDICT_COLORS = {"PASS": "#006b21", "FAIL": "#a40000", "SKIP": "#6b6b6b"}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``snnviz`` console script; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    return args.run(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snnviz", description="Spiking-network lab bench: gallery server and reproductions."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p_list = sub.add_parser("list", help="list the demo pages")
    p_list.set_defaults(run=cmd_list)

    p_serve = sub.add_parser("serve", help="serve the gallery with `panel serve app`")
    p_serve.add_argument("--port", type=int, default=5006, help="port (default 5006)")
    p_serve.add_argument(
        "--address", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    p_serve.add_argument("--show", action="store_true", help="open a browser tab")
    p_serve.set_defaults(run=cmd_serve)

    p_rep = sub.add_parser("reproduce", help="recompute pages' results and check the claims")
    p_rep.add_argument("names", nargs="*", metavar="NAME", help="page slug(s), see `snnviz list`")
    p_rep.add_argument("--all", action="store_true", help="every registered page")
    p_rep.add_argument(
        "--full", action="store_true", help="the fuller run (default: quick mode, < 60 s per page)"
    )
    p_rep.add_argument(
        "--report",
        type=Path,
        metavar="OUT.html",
        help="also write an HTML report with the claims and figures",
    )
    p_rep.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="Dask worker processes for several pages (default: CPU cores, at most one per "
        "page); 0 = run the pages one after another in this process",
    )
    p_rep.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="address of a running Dask scheduler (e.g. tcp://10.0.0.5:8786) to run the pages on",
    )
    p_rep.set_defaults(run=cmd_reproduce)
    return parser


# -- list ---------------------------------------------------------------------------------
def cmd_list(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Print one line per registered page: slug, title (or why it does not load)."""
    out = out or sys.stdout
    width = max((len(s) for s in gallery.PAGES), default=0)
    status = EXIT_OK
    for slug in gallery.PAGES:
        try:
            cls = gallery.load_page(slug)
            print(f"{slug:<{width}}  {cls.title}  ({cls.reference})", file=out)
        except Exception as err:
            print(f"{slug:<{width}}  [cannot load: {type(err).__name__}: {err}]", file=out)
            status = EXIT_FAILED
    return status


# -- serve --------------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    """Run ``panel serve app`` in the foreground until Ctrl-C."""
    if not (APP_DIR / "main.py").is_file():
        print(
            f"snnviz serve: no app at {APP_DIR} (serve from a source checkout of snnviz)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    cmd = serve_command(args.port, args.address, show=args.show)
    print(f"snnviz gallery: http://{args.address}:{args.port}/app   (Ctrl-C to stop)", flush=True)
    proc = subprocess.Popen(cmd, cwd=gallery.REPO_ROOT)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait(timeout=10)
        return EXIT_OK


# -- reproduce ----------------------------------------------------------------------------
def cmd_reproduce(args: argparse.Namespace) -> int:
    """Run ``reproduce()`` of the chosen pages; print verdicts; exit 1 on any failure."""
    if args.all == bool(args.names):
        print(
            "snnviz reproduce: give page name(s) or --all, not both/neither; known pages: "
            f"{', '.join(gallery.PAGES)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    slugs = list(gallery.PAGES) if args.all else list(dict.fromkeys(args.names))
    unknown = [s for s in slugs if s not in gallery.PAGES]
    if unknown:
        print(
            f"snnviz reproduce: unknown page(s) {', '.join(unknown)}; known pages: "
            f"{', '.join(gallery.PAGES)}",
            file=sys.stderr,
        )
        return EXIT_USAGE

    if args.workers is not None and args.workers < 0:
        print(f"snnviz reproduce: --workers must be >= 0, got {args.workers}", file=sys.stderr)
        return EXIT_USAGE
    workers = args.workers if args.workers is not None else min(len(slugs), os.cpu_count() or 1)
    if args.scheduler is None and (workers == 0 or len(slugs) == 1):
        outcomes = [_reproduce_one(slug, not args.full) for slug in slugs]
        for outcome in outcomes:
            _print_outcome(outcome)
    else:
        outcomes = _reproduce_on_dask(slugs, not args.full, workers, args.scheduler)
    passed = sum(o["result"] is not None and o["result"].passed for o in outcomes)
    print(f"\n{passed}/{len(outcomes)} page(s) passed", flush=True)
    if args.report is not None:
        write_report(outcomes, args.report, quick=not args.full)
        print(f"report: {args.report}", flush=True)
    return EXIT_OK if passed == len(outcomes) else EXIT_FAILED


def _reproduce_on_dask(
    slugs: list[str], quick: bool, workers: int, address: str | None
) -> list[dict[str, Any]]:
    """Run the pages as Dask tasks (one per page); print each outcome as it arrives."""
    from distributed import Client, LocalCluster, as_completed

    if address is None:
        print(
            f"snnviz reproduce: {len(slugs)} page(s) on a local Dask cluster of "
            f"{workers} process(es)",
            file=sys.stderr,
            flush=True,
        )
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
    else:
        cluster = None
    client = Client(address if cluster is None else cluster)
    try:
        pages = dict(gallery.PAGES)  # the workers use this process's registry
        futures = {
            client.submit(
                _reproduce_one, slug, quick, pages, key=f"reproduce-{slug}-{i}", pure=False
            ): slug
            for i, slug in enumerate(slugs)
        }
        outcomes = {}
        for future in as_completed(futures):
            outcome = future.result()
            _print_outcome(outcome)
            outcomes[futures[future]] = outcome
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return [outcomes[slug] for slug in slugs]


def _reproduce_one(slug: str, quick: bool, pages: dict[str, str] | None = None) -> dict[str, Any]:
    """Reproduce one page (here or in a worker process); a crash becomes an outcome with
    ``error`` set (never raises)."""
    from snnviz.core import enable_compilation_cache

    enable_compilation_cache()
    outcome: dict[str, Any] = {
        "slug": slug,
        "title": slug,
        "reference": "",
        "result": None,
        "error": None,
        "seconds": 0.0,
    }
    start = time.perf_counter()
    try:
        cls = gallery.load_page(slug, pages)
        outcome.update(title=cls.title, reference=cls.reference)
        print(
            f"[{slug}] reproducing ({'quick' if quick else 'full'})...", file=sys.stderr, flush=True
        )
        outcome["result"] = cls().reproduce(quick=quick, progress=_progress_printer(slug))
    except Exception:
        outcome["error"] = traceback.format_exc()
    outcome["seconds"] = time.perf_counter() - start
    return outcome


def _print_outcome(outcome: dict[str, Any]) -> None:
    """The claims' verdicts on stdout; a crash's traceback on stderr."""
    if outcome["result"] is not None:
        print(outcome["result"].summary(), flush=True)
    else:
        print(f"{outcome['slug']}: ERROR after {outcome['seconds']:.1f} s", flush=True)
        print(outcome["error"], file=sys.stderr, flush=True)


def _progress_printer(slug: str):
    """Progress lines on stderr: ``[slug]  40%  message`` (repeats of a message are merged)."""
    last: list[Any] = [None]

    def progress(fraction: float, message: str) -> None:
        key = (round(float(fraction) * 100), message)
        if key != last[0]:
            last[0] = key
            print(f"[{slug}] {key[0]:3d}%  {message}", file=sys.stderr, flush=True)

    return progress


def write_report(outcomes: Sequence[dict[str, Any]], path: Path, quick: bool = True) -> Path:
    """Write a self-contained HTML report: per page its claims (paper, check, measured,
    verdict) as a plain table and its figures as Bokeh plots (JS inlined: opens offline)."""
    from bokeh.embed import components
    from bokeh.resources import INLINE

    stamp = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    passed = sum(o["result"] is not None and o["result"].passed for o in outcomes)
    sections, models = [], []
    for outcome in outcomes:
        sections.append(_outcome_html(outcome))
        result = outcome["result"]
        for name, figure in result.figures.items() if result is not None else ():
            try:
                models.append(_bokeh_model(figure))
                sections.append(f"<h3>{html.escape(name)}</h3><!--figure-{len(models) - 1}-->")
            except Exception as err:
                sections.append(
                    f"<p>figure {html.escape(name)} could not be rendered: "
                    f"{html.escape(f'{type(err).__name__}: {err}')}</p>"
                )
    script, divs = components(models) if models else ("", ())
    body = "\n".join(sections)
    for i, div in enumerate(divs):
        body = body.replace(f"<!--figure-{i}-->", div, 1)
    page = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>snnviz reproduce report</title>{INLINE.render()}{script}"
        "<style>body{font-family:sans-serif;margin:2em;max-width:1100px}"
        "td,th{border:1px solid #bbb;padding:4px 8px;text-align:left}"
        "table{border-collapse:collapse}</style></head><body>"
        f"<h1>snnviz reproduce report</h1><p>{stamp} · {'quick' if quick else 'full'} mode · "
        f"<b>{passed}/{len(outcomes)}</b> page(s) passed</p>{body}</body></html>\n"
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def _bokeh_model(figure: Any) -> Any:
    """A Bokeh model for a figure: HoloViews objects are rendered, Bokeh models kept."""
    from bokeh.model import Model

    if isinstance(figure, Model):
        return figure
    import holoviews as hv

    if isinstance(figure, hv.core.Dimensioned):
        return hv.render(figure, backend="bokeh")
    import panel as pn

    return pn.panel(figure).get_root()


def _outcome_html(outcome: dict[str, Any]) -> str:
    esc = html.escape
    head = (
        f"<h2>{esc(outcome['title'])} <small>({esc(outcome['slug'])})</small></h2>"
        f"<p><i>{esc(outcome['reference'])}</i></p>"
    )
    result = outcome["result"]
    if result is None:
        return head + f"<p><b style='color:#a40000'>ERROR</b></p><pre>{esc(outcome['error'])}</pre>"
    rows = "".join(
        f"<tr><td style='color:{_VERDICT_COLORS[c.verdict]}'><b>"
        f"{c.verdict}</b></td><td>{esc(c.claim.paper)}</td>"
        f"<td>{esc(c.claim.check)}</td><td>{esc(_fmt(c.measured))}</td>"
        f"<td>{esc(c.detail)}</td></tr>"
        for c in result.claims
    )
    return (
        head + f"<p>{result.seconds:.1f} s</p><table><tr><th>verdict</th><th>paper</th>"
        f"<th>our check</th><th>measured</th><th>detail</th></tr>{rows}</table>"
    )


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
