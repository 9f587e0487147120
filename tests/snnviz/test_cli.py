"""Tests of the `snnviz` command (snnviz/cli.py) against stand-in pages (tests/helpers.py)."""

import re
import subprocess
import sys

import pytest

from snnviz import cli, gallery
from tests.helpers import FAKE_PAGES


@pytest.fixture(autouse=True)
def fake_registry(monkeypatch):
    monkeypatch.setattr(gallery, "PAGES", dict(FAKE_PAGES))
    return gallery.PAGES


def test_reproduce_passing_page_exits_0_and_prints_each_claim(capsys):
    assert cli.main(["reproduce", "fake_pass"]) == 0
    out, err = capsys.readouterr()
    assert re.search(r"^fake_pass \(quick, \d+\.\d s\)$", out, re.M)
    assert "  PASS  value > 0: measured 1" in out
    assert "        paper: value is 1.0" in out
    assert "1/1 page(s) passed" in out
    assert "[fake_pass]  50%  measuring" in err and "[fake_pass] 100%  done" in err


def test_reproduce_failing_claim_exits_1(capsys):
    assert cli.main(["reproduce", "fake_fail", "--full"]) == 1
    out, _ = capsys.readouterr()
    assert "fake_fail (full," in out and "  FAIL  value > 0: measured -1" in out
    assert "0/1 page(s) passed" in out


def test_a_crashing_page_is_reported_and_exits_1(capsys):
    assert cli.main(["reproduce", "fake_crash"]) == 1
    out, err = capsys.readouterr()
    assert "fake_crash: ERROR after" in out
    assert "RuntimeError: simulated crash in _measure" in err


def test_reproduce_all_runs_every_page_in_process_with_workers_0(capsys):
    assert cli.main(["reproduce", "--all", "--workers", "0"]) == 1
    out, _ = capsys.readouterr()
    assert out.index("fake_pass (") < out.index("fake_fail (") < out.index("fake_crash: ERROR")
    assert "1/3 page(s) passed" in out


def test_reproduce_all_fans_out_over_a_local_dask_cluster(capsys, tmp_path):
    report = tmp_path / "report.html"
    assert cli.main(["reproduce", "--all", "--workers", "2", "--report", str(report)]) == 1
    out, err = capsys.readouterr()
    assert "on a local Dask cluster of 2 process(es)" in err
    assert "fake_pass (quick" in out and "fake_fail (quick" in out and "fake_crash: ERROR" in out
    assert "RuntimeError: simulated crash in _measure" in err  # worker traceback, printed here
    assert "1/3 page(s) passed" in out
    text = report.read_text()  # figures came back from the workers
    assert text.index("Fake page") < text.index("Failing fake page") < text.index("fake_crash")


def test_unknown_page_exits_2_and_lists_the_known_ones(capsys):
    assert cli.main(["reproduce", "nope"]) == 2
    _, err = capsys.readouterr()
    assert "unknown page(s) nope; known pages: fake_pass, fake_fail, fake_crash" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["reproduce"], "give page name(s) or --all"),
        (["reproduce", "fake_pass", "--all"], "give page name(s) or --all"),
        (["reproduce", "--all", "--workers", "-1"], "--workers must be >= 0, got -1"),
    ],
)
def test_reproduce_usage_errors_exit_2(argv, message, capsys):
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_bad_usage_exits_2():
    with pytest.raises(SystemExit) as exc:
        cli.main(["reproduce", "fake_pass", "--bogus"])
    assert exc.value.code == 2
    assert cli.main([]) == 2


def test_report_has_the_claims_and_the_figures(tmp_path, capsys):
    report = tmp_path / "sub" / "report.html"
    assert cli.main(["reproduce", "fake_pass", "fake_crash", "--report", str(report)]) == 1
    assert f"report: {report}" in capsys.readouterr().out
    text = report.read_text()
    assert "<title>snnviz reproduce report</title>" in text
    assert "1/2</b> page(s) passed" in text
    assert "value &gt; 0" in text and ">PASS<" in text  # the claim row, escaped
    assert "simulated crash in _measure" in text  # the crashed page's traceback
    assert "<h3>curve</h3>" in text and "Bokeh.embed.embed_items" in text
    assert '"name":"Figure"' in text.replace(" ", "")  # the figure's document
    assert "cdn.bokeh.org" not in text  # resources inlined: opens offline


def test_list_prints_slug_and_title(capsys, fake_registry):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("fake_pass   Fake page  (Nobody, 2026")
    assert len(out) == 3
    fake_registry["broken"] = "tests.no_such_module:X"
    assert cli.main(["list"]) == 1
    assert "broken      [cannot load: ModuleNotFoundError" in capsys.readouterr().out


def test_serve_command_has_the_server_flags():
    cmd = cli.serve_command(port=6123, address="127.0.0.1")
    assert cmd[:4] == [sys.executable, "-m", "panel", "serve"]
    assert cmd[4] == str(cli.APP_DIR) and (cli.APP_DIR / "main.py").is_file()
    joined = " ".join(cmd)
    assert "--address 127.0.0.1 --port 6123" in joined
    assert "--allow-websocket-origin 127.0.0.1:6123" in joined
    assert "--allow-websocket-origin localhost:6123" in joined
    assert "--unused-session-lifetime 5000 --check-unused-sessions 2000" in joined
    assert "--show" not in cmd and "--show" in cli.serve_command(show=True)
    assert "--allow-websocket-origin *" in " ".join(cli.serve_command(address="0.0.0.0"))


def test_serve_prints_the_url_and_runs_panel(monkeypatch, capsys):
    calls = []

    class FakePopen:
        def __init__(self, cmd, cwd):
            calls.append((cmd, cwd))

        def wait(self):
            return 0

    monkeypatch.setattr(cli.subprocess, "Popen", FakePopen)
    assert cli.main(["serve", "--port", "6124"]) == 0
    assert "http://127.0.0.1:6124/app" in capsys.readouterr().out
    ((cmd, cwd),) = calls
    assert cmd == cli.serve_command(6124, "127.0.0.1") and cwd == gallery.REPO_ROOT


def test_console_script_exit_code_for_an_unknown_page():
    proc = subprocess.run(
        [sys.executable, "-m", "snnviz.cli", "reproduce", "no_such_page"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "unknown page(s) no_such_page; known pages: " in proc.stderr
