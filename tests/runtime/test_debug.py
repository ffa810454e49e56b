import io
from typing import Any

import pytest

from loadhopper import HttpUser, StopUser, events, run_single_user, task
from loadhopper.runtime import Events
from user.loopback_server import LoopbackServer


def _user(server: LoopbackServer) -> type[HttpUser]:
    class Debugged(HttpUser):
        host = server.url

        @task
        def t(self) -> None:
            self.client.get("/")
            self.client.get("/status/404")
            raise StopUser()

    return Debugged


def test_run_single_user_prints_each_request(server: LoopbackServer) -> None:
    out = io.StringIO()
    hooks = Events()
    inits: list[Any] = []
    hooks.init.add_listener(lambda **kw: inits.append(kw))
    run_single_user(
        _user(server), include_length=True, include_context=True, event_hooks=hooks, out=out
    )
    lines = out.getvalue().splitlines()
    assert lines[0].split()[:4] == ["type", "name", "resp_ms", "exception"]
    assert lines[1].split()[:2] == ["GET", "/"]
    assert lines[1].split()[-2:] == ["5", "{}"]  # size, then context
    assert lines[2].split()[:3][:2] == ["GET", "/status/[id]"] and "HTTPError" in lines[2]
    assert inits and inits[0]["runner"] is None and inits[0]["web_ui"] is None
    assert not hooks.request._handlers  # the printer is removed afterwards


def test_run_single_user_uses_the_module_events_by_default(server: LoopbackServer) -> None:
    seen: list[str] = []
    listener = events.request.add_listener(lambda name, **_: seen.append(name))
    try:
        run_single_user(_user(server), out=io.StringIO(), loglevel=None)
    finally:
        events.request.remove_listener(listener)
    assert seen == ["/", "/status/[id]"]
    assert events.request.recorder is None


def test_run_single_user_lets_exceptions_through_for_debuggers() -> None:
    class Broken(HttpUser):
        host = "http://127.0.0.1:9"

        @task
        def t(self) -> None:
            raise ZeroDivisionError("in the task")

    with pytest.raises(ZeroDivisionError):
        run_single_user(Broken, event_hooks=Events(), out=io.StringIO(), loglevel=None)


def test_run_single_user_runs_greenlets_and_sleeps_as_a_test_does(server: LoopbackServer) -> None:
    # A greenlet the task spawns makes its request on the run's loop and is joined, and
    # `time.sleep` is the run's yielding one while the user runs (tests/compat checks that
    # it yields).
    import time

    from loadhopper.runtime._gevent import spawn

    seen: list[str] = []
    original_sleep = time.sleep

    class Spawning(HttpUser):
        host = server.url

        @task
        def t(self) -> None:
            seen.append("patched" if time.sleep is not original_sleep else "real")
            spawn(self.client.get, "/").join()
            raise StopUser()

    hooks = Events()
    names: list[str] = []
    hooks.request.add_listener(lambda name, **_: names.append(name))
    run_single_user(Spawning, event_hooks=hooks, out=io.StringIO(), loglevel=None)
    assert seen == ["patched"]
    assert names == ["/"]
    assert time.sleep is original_sleep  # put back after the run
