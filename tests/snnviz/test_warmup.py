"""Background warm-up of pages (snnviz/warmup.py): the server is live at once, sessions wait."""

import threading
import time

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


def test_later_pages_wait_until_no_session_is_waiting_for_or_building_a_page(monkeypatch):
    order = []

    def page(name):
        return type(name, (), {"warm_up": classmethod(lambda cls: order.append(name))})

    pages = {"wq_first": page("wq_first"), "wq_second": page("wq_second")}
    monkeypatch.setattr(gallery, "load_page", pages.__getitem__)
    release = warmup.hold_warm_up(max_s=30)  # a session's HTML went out, its page is not built
    thread = warmup.start_warm_up(["wq_first", "wq_second"], quiet_s=0.2)
    assert warmup.wait_until_warm("wq_first", timeout_s=5)  # the first page never waits
    time.sleep(0.5)
    assert order == ["wq_first"]  # the second waits while the session's page is on its way
    with warmup.session_activity():  # ... and while the session builds it
        release()
        time.sleep(0.4)
        assert order == ["wq_first"]
    thread.join(5)
    assert order == ["wq_first", "wq_second"] and not thread.is_alive()


def test_a_hold_expires_and_quiet_is_reported():
    warmup.hold_warm_up(max_s=0.1)  # never released: a browser that did not connect
    assert not warmup.wait_for_quiet(quiet_s=0.0, timeout_s=0.02)
    assert warmup.wait_for_quiet(quiet_s=0.0, timeout_s=2)


def test_setup_runs_first_on_the_thread(monkeypatch):
    seen = []
    pages = {"ws_page": type("P", (), {"warm_up": classmethod(lambda cls: seen.append("page"))})}
    monkeypatch.setattr(gallery, "load_page", pages.__getitem__)
    warmup.start_warm_up(["ws_page"], setup=lambda: seen.append("setup")).join(5)
    assert seen == ["setup", "page"]


def test_later_stages_run_after_every_page_and_only_when_quiet(monkeypatch):
    order = []

    def staged(name):
        def warm_up(cls):
            order.append(name)
            return [lambda: order.append(f"{name} later"), lambda: 1 / 0]  # the 2nd one fails

        return type(name, (), {"warm_up": classmethod(warm_up)})

    plain = type("P", (), {"warm_up": classmethod(lambda cls: order.append("wl_plain"))})
    pages = {"wl_staged": staged("wl_staged"), "wl_plain": plain}
    monkeypatch.setattr(gallery, "load_page", pages.__getitem__)
    release = warmup.hold_warm_up(max_s=30)
    thread = warmup.start_warm_up(["wl_staged", "wl_plain"], quiet_s=0.1)
    assert warmup.wait_until_warm("wl_staged", timeout_s=5)  # warm before its later stages ran
    time.sleep(0.3)
    assert order == ["wl_staged"]  # neither the next page nor a later stage while a session waits
    release()
    thread.join(5)
    assert order == ["wl_staged", "wl_plain", "wl_staged later"] and not thread.is_alive()
