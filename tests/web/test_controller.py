"""WebController on its own event loop: the lifecycle, listeners, and what it keeps."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uvloop
from web_support import USER_CLASSES

from loadhopper._exceptions import ConfigError, LoadhopperError
from loadhopper.runtime import Environment, Events, RunnerState
from loadhopper.stats import StatsSnapshot, TimelinePoint
from loadhopper.web import EditParameters, FinishedTest, StartParameters, WebController


def _controller(host: str | None = None) -> WebController:
    env = Environment(user_classes=list(USER_CLASSES), events=Events(), host=host)
    return WebController(env, locustfile="lf.py", defaults=StartParameters(3, 2.0, host))


async def _until(check: Any) -> None:
    async with asyncio.timeout(20):
        while not check():
            await asyncio.sleep(0.01)


def test_two_tests_in_a_row_keep_the_timeline_and_history(target: Any) -> None:
    windows: list[tuple[StatsSnapshot, TimelinePoint]] = []
    ended: list[FinishedTest] = []

    async def scenario() -> WebController:
        controller = _controller(target.url)
        controller.window_listeners.append(lambda snap, point: windows.append((snap, point)))
        controller.test_end_listeners.append(ended.append)
        assert controller.status().state is RunnerState.READY and controller.run_info() is None
        controller.start(StartParameters(2, 100.0, None, 1.2, ("IndexUser",)))
        assert controller.running and controller.status().state is RunnerState.SPAWNING
        with pytest.raises(LoadhopperError, match="already running"):
            controller.start(StartParameters(1, 1.0))
        await controller.wait()
        controller.start(StartParameters(1, 100.0, None, None, ("IndexUser",)))
        await _until(lambda: controller.runner.user_count == 1)
        controller.edit(EditParameters(3, 100.0))
        await _until(lambda: controller.runner.user_count == 3)
        assert controller.status().target_users == 3
        controller.stop()
        await controller.wait()
        with pytest.raises(LoadhopperError, match="No test is running"):
            controller.edit(EditParameters(1, 1.0))
        controller.close()
        return controller

    controller = asyncio.Runner(loop_factory=uvloop.new_event_loop).run(scenario())
    assert len(ended) == 2 and ended[0].run.run_time == 1.2 and ended[1].run.users == 3
    assert ended[0].run.host == target.url and ended[0].snapshot.total.num_requests > 0
    assert controller.finished is ended[1]
    assert len(controller.test_starts()) == 2
    # The first test's windows are still in the chart history after the second test began.
    first_end = ended[0].run.end_time
    assert any(point.time <= first_end for point in controller.timeline())
    assert [p for _, p in windows] == list(controller.timeline())
    history = controller.history_csv_rows()
    assert history[0][:4] == ["Timestamp", "User Count", "Type", "Name"]
    assert len(history) == 1 + len(windows)
    status = controller.status()
    assert status.state is RunnerState.STOPPED and not status.running
    assert status.tests_started == 2 and status.error is None


def test_unknown_classes_are_refused_before_anything_starts() -> None:
    async def scenario() -> None:
        controller = _controller()
        with pytest.raises(ConfigError, match="Unknown User class 'Nope'"):
            controller.start(StartParameters(1, 1.0, None, None, ("Nope",)))
        assert not controller.running and controller.test_starts() == ()

    asyncio.run(scenario())


def test_defaults_come_from_the_command_line() -> None:
    controller = _controller("http://127.0.0.1:9")
    assert controller.defaults == StartParameters(3, 2.0, "http://127.0.0.1:9")
    assert [cls.__name__ for cls in controller.all_classes] == [
        "IndexUser",
        "FailUser",
        "CrashUser",
    ]


def test_a_test_gets_its_host_and_classes_as_parameters_not_by_changing_the_environment(
    target: Any,
) -> None:
    async def scenario() -> tuple[WebController, list[str | None]]:
        controller = _controller("http://127.0.0.1:9")
        hosts: list[str | None] = []
        env = controller.environment
        env.events.spawning_complete.add_listener(lambda user_count: hosts.append(env.host))
        controller.start(StartParameters(1, 100.0, target.url, None, ("IndexUser",)))
        await _until(lambda: controller.runner.user_classes_count == {"IndexUser": 1})
        controller.stop()
        await controller.wait()
        return controller, hosts

    controller, hosts = uvloop.run(scenario())
    assert hosts == [target.url]  # the users of the test saw the form's host
    env = controller.environment
    assert env.host == "http://127.0.0.1:9" and env.user_classes == list(USER_CLASSES)
    assert controller.status().host == target.url
