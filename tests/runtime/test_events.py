import logging
from typing import Any

import pytest

from loadhopper import StopUser
from loadhopper.runtime import Environment, EventHook, Events, events


def test_add_listener_works_as_a_decorator_and_fire_passes_kwargs() -> None:
    hook = EventHook()
    seen: list[dict[str, Any]] = []

    @hook.add_listener
    def listener(**kwargs: Any) -> None:
        seen.append(kwargs)

    assert listener.__name__ == "listener"  # the function itself is returned
    hook.fire(a=1, b="x")
    assert seen == [{"a": 1, "b": "x"}]
    hook.remove_listener(listener)
    hook.fire(a=2)
    assert len(seen) == 1


def test_listeners_run_in_order_and_reverse() -> None:
    hook = EventHook()
    order: list[int] = []
    hook.add_listener(lambda: order.append(1))
    hook.add_listener(lambda: order.append(2))
    hook.fire()
    hook.fire(reverse=True)
    assert order == [1, 2, 2, 1]


def test_a_failing_listener_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hook = EventHook()
    ran: list[str] = []

    def bad() -> None:
        raise RuntimeError("listener broke")

    hook.add_listener(bad)
    hook.add_listener(lambda: ran.append("second"))
    with caplog.at_level(logging.ERROR):
        hook.fire()
    assert ran == ["second"]
    assert "listener broke" in caplog.text


def test_control_flow_signals_propagate_from_listeners() -> None:
    hook = EventHook()

    def stop() -> None:
        raise StopUser()

    hook.add_listener(stop)
    with pytest.raises(StopUser):
        hook.fire()


def test_events_has_every_locust_hook() -> None:
    names = [
        "init",
        "init_command_line_parser",
        "test_start",
        "test_stopping",
        "test_stop",
        "request",
        "spawning_complete",
        "quitting",
        "quit",
        "user_error",
        "reset_stats",
        "report_to_master",
        "worker_report",
        "cpu_warning",
        "usage_monitor",
    ]
    bus = Events()
    assert all(isinstance(getattr(bus, name), EventHook) for name in names)
    assert isinstance(events, Events)


def test_environments_do_not_share_listeners_unless_given_the_same_events() -> None:
    a, b = Environment(), Environment()
    a.events.test_start.add_listener(lambda **_: None)
    assert not b.events.test_start._handlers
    assert a.events is not events and b.events is not events


def test_firing_request_from_a_custom_client_records_into_the_stats() -> None:
    env = Environment()
    seen: list[str] = []
    env.events.request.add_listener(lambda name, **_: seen.append(name))
    env.events.request.fire(
        request_type="grpc",
        name="Say",
        response_time=12.5,
        response_length=10,
        exception=None,
        context={},
    )
    (row,) = env.stats.snapshot(0).rows
    assert (row.method, row.name, row.num_requests) == ("grpc", "Say", 1)
    assert seen == ["Say"]


def test_measure_times_a_block_and_records_failures() -> None:
    env = Environment()
    payloads: list[dict[str, Any]] = []
    env.events.request.add_listener(lambda **kw: payloads.append(kw))
    with env.events.request.measure("custom", "ok") as meta:
        meta["response_length"] = 5
    with env.events.request.measure("custom", "bad"):
        raise ValueError("nope")
    rows = {row.name: row for row in env.stats.snapshot(0).rows}
    assert rows["ok"].num_failures == 0 and rows["ok"].avg_content_length == 5
    assert rows["bad"].num_failures == 1
    assert isinstance(payloads[1]["exception"], ValueError)
    assert payloads[0]["response_time"] >= 0
