from typing import Any

import pytest

from loadhopper import HttpUser, User
from loadhopper._exceptions import LoadhopperError
from loadhopper.runtime import Environment, Events, LocalRunner
from loadhopper.stats import template_url


class _U(User):
    pass


def test_environment_attributes() -> None:
    bus = Events()
    options = object()
    env = Environment(
        user_classes=[_U],
        tags=["a"],
        exclude_tags=["b"],
        events=bus,
        host="http://127.0.0.1:1",
        reset_stats=True,
        stop_timeout=3,
        catch_exceptions=False,
        parsed_options=options,
    )
    assert env.user_classes == [_U]
    assert env.events is bus
    assert env.host == "http://127.0.0.1:1"
    assert env.parsed_options is options
    assert env.reset_stats and env.stop_timeout == 3 and not env.catch_exceptions
    assert env.tags == frozenset({"a"}) and env.exclude_tags == frozenset({"b"})
    assert env.runner is None and env.web_ui is None and env.process_exit_code is None
    assert env.url_namer is template_url
    assert Environment(template_names=False).url_namer is None


def test_create_local_runner_once() -> None:
    env = Environment(user_classes=[_U])
    runner = env.create_local_runner()
    assert isinstance(runner, LocalRunner) and env.runner is runner
    assert runner.environment is env and runner.stats is env.stats
    with pytest.raises(LoadhopperError, match="already has a runner"):
        env.create_local_runner()


def test_request_sink_records_and_fires_only_with_listeners() -> None:
    env = Environment()
    env.request_sink("GET", "/a", 1.5, 10, None, {}, None, 0.0, "http://h/a")
    seen: list[dict[str, Any]] = []
    env.events.request.add_listener(lambda **kw: seen.append(kw))
    error = ValueError("x")
    env.request_sink("GET", "/a", 2.5, 0, None, {"k": 1}, error, 5.0, "http://h/a")
    (row,) = env.stats.snapshot(0).rows
    assert row.num_requests == 2 and row.num_failures == 1
    assert seen == [
        {
            "request_type": "GET",
            "name": "/a",
            "response_time": 2.5,
            "response_length": 0,
            "response": None,
            "context": {"k": 1},
            "exception": error,
            "start_time": 5.0,
            "url": "http://h/a",
        }
    ]


def test_report_user_error_records_fires_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    env = Environment()
    fired: list[Any] = []
    env.events.user_error.add_listener(lambda **kw: fired.append(kw))
    user = _U(env)
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        env.report_user_error(user, exc)
    (snap,) = env.stats.snapshot(0).exceptions
    assert snap.message == "RuntimeError: boom"
    assert 'raise RuntimeError("boom")' in snap.traceback
    assert fired[0]["user_instance"] is user and isinstance(fired[0]["exception"], RuntimeError)
    assert fired[0]["tb"] is not None
    (record,) = caplog.records
    assert "RuntimeError: boom in _U at" in record.getMessage()


def test_equal_weights() -> None:
    class Heavy(HttpUser):
        weight = 5

    env = Environment(user_classes=[Heavy])
    assert env.weight_of(Heavy) == 5
    env.assign_equal_weights()
    assert env.weight_of(Heavy) == 1
