"""Background warm-up of pages (snnviz/warmup.py): the server is live at once, sessions wait."""

import threading

from snnviz import gallery, warmup


def test_warm_up_runs_off_thread_and_sessions_wait_for_their_page(monkeypatch):
    gate, calls = threading.Event(), []

    class Slow:
        @classmethod
        def warm_up(cls):
            gate.wait(5)
            calls.append("slow")

    class Broken:
        @classmethod
        def warm_up(cls):
            raise RuntimeError("warm-up failed")

    pages = {"wu_slow": Slow, "wu_broken": Broken, "wu_plain": object}
    monkeypatch.setattr(gallery, "load_page", pages.__getitem__)
    thread = warmup.start_warm_up(["wu_slow", "wu_broken", "wu_plain"])
    assert thread.is_alive()  # returned while the first page still warms
    assert warmup.wait_until_warm("wu_plain", timeout_s=5)  # not started: no waiting
    assert not warmup.wait_until_warm("wu_slow", timeout_s=0.05)
    gate.set()
    assert warmup.wait_until_warm("wu_slow", timeout_s=5) and calls == ["slow"]
    assert warmup.wait_until_warm("wu_broken", timeout_s=5)  # a failure still releases sessions
    thread.join(5)
    assert not thread.is_alive()
    assert warmup.wait_until_warm("never_scheduled", timeout_s=0)  # e.g. in a notebook
