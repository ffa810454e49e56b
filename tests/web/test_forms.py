"""Validating the start and edit forms: every bad field is a one-sentence ConfigError."""

from __future__ import annotations

import pytest

from loadhopper._exceptions import ConfigError
from loadhopper.web import (
    EditParameters,
    StartParameters,
    parse_edit_form,
    parse_start_form,
    parse_timespan,
    validate_host,
)


@pytest.mark.parametrize(
    "host", ["http://127.0.0.1:8000", "https://example.com", "http://[::1]:81/base", " http://a "]
)
def test_http_and_https_hosts_are_accepted(host: str) -> None:
    assert validate_host(host) == host.strip()


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("file:///etc/passwd", "must start with http:// or https://"),
        ("javascript:alert(1)", "must start with http:// or https://"),
        ("ftp://example.com", "must start with http:// or https://"),
        ("127.0.0.1:8000", "must start with http:// or https://"),
        ("http://", "has no host name"),
        ("http:///path", "has no host name"),
        ("http://example.com:99999", "is not a valid URL"),
        ("http://exa mple.com", "spaces or control characters"),
        ("http://" + "a" * 3000, "longer than"),
    ],
)
def test_other_hosts_are_refused_with_a_reason(host: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        validate_host(host)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("90s", 90.0), ("5m", 300.0), ("1h30m", 5400.0), ("1.5", 1.5)],
)
def test_timespans(text: str, seconds: float) -> None:
    assert parse_timespan(text) == seconds


@pytest.mark.parametrize("text", ["soon", "5 minutes", "-3", "0", "m"])
def test_bad_timespans(text: str) -> None:
    with pytest.raises(ConfigError, match="run time"):
        parse_timespan(text)


def test_start_form_full() -> None:
    form = {
        "users": 20,
        "spawn_rate": "2.5",
        "host": "http://127.0.0.1:9",
        "run_time": "1m",
        "user_classes": ["A", "B"],
    }
    assert parse_start_form(form) == StartParameters(
        20, 2.5, "http://127.0.0.1:9", 60.0, ("A", "B")
    )


def test_start_form_minimal_leaves_host_and_run_time_out() -> None:
    form = {"users": "3", "spawn_rate": 1, "host": "  ", "run_time": ""}
    assert parse_start_form(form) == StartParameters(3, 1.0)


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"spawn_rate": 1}, "Number of users"),
        ({"users": -1, "spawn_rate": 1}, "Number of users"),
        ({"users": 1.5, "spawn_rate": 1}, "Number of users"),
        ({"users": True, "spawn_rate": 1}, "Number of users"),
        ({"users": 10**9, "spawn_rate": 1}, "Number of users"),
        ({"users": 1, "spawn_rate": 0}, "Spawn rate"),
        ({"users": 1, "spawn_rate": "fast"}, "Spawn rate"),
        ({"users": 1, "spawn_rate": float("inf")}, "Spawn rate"),
        ({"users": 1, "spawn_rate": 1, "host": 5}, "Host must be text"),
        ({"users": 1, "spawn_rate": 1, "host": "gopher://x"}, "http://"),
        ({"users": 1, "spawn_rate": 1, "user_classes": "A"}, "user_classes"),
        ([1, 2], "JSON object"),
    ],
)
def test_bad_start_forms(form: object, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        parse_start_form(form)


def test_edit_form() -> None:
    assert parse_edit_form({"users": 7, "spawn_rate": 3}) == EditParameters(7, 3.0)
    with pytest.raises(ConfigError, match="Spawn rate"):
        parse_edit_form({"users": 7})
