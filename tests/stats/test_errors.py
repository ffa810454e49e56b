from __future__ import annotations

import pytest

from loadhopper._exceptions import CatchResponseError
from loadhopper.stats import FailureSnapshot, normalise_error
from loadhopper.stats._errors import MAX_ERROR_CHARS, OVERFLOW_ERROR, FailureLog


class HTTPError(Exception):
    pass


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            ConnectionRefusedError(111, "Connection refused"),
            "ConnectionRefusedError: [Errno 111] Connection refused",
        ),
        (CatchResponseError("Got wrong response"), "CatchResponseError: Got wrong response"),
        (TimeoutError(), "TimeoutError"),
        ("plain text", "plain text"),
        ("  many\n\tspaces   here ", "many spaces here"),
        (
            HTTPError("404 Client Error: Not Found for url: http://127.0.0.1:8089/17/delete"),
            "HTTPError: 404 Client Error: Not Found for url: http://127.0.0.1:8089/[id]/delete",
        ),
        (
            "500 for https://example.test/cats/42?page=3 (retry)",
            "500 for https://example.test/cats/[id]?page=[v] (retry)",
        ),
        ("see http://host.test", "see http://host.test"),
        (
            OSError("<urllib3.connection.HTTPConnection object at 0x7f3a9c2b1e50>: failed"),
            "OSError: <urllib3.connection.HTTPConnection object>: failed",
        ),
        ("flags 0x1f set", "flags 0x1f set"),
    ],
)
def test_normalise_error(error: BaseException | str, expected: str) -> None:
    assert normalise_error(error) == expected


def test_failures_differing_only_by_an_id_in_the_url_normalise_alike() -> None:
    a = HTTPError("404 Not Found for url: http://h:1/users/17/posts/3")
    b = HTTPError("404 Not Found for url: http://h:1/users/18/posts/9")
    assert normalise_error(a) == normalise_error(b)


def test_long_messages_are_capped() -> None:
    text = normalise_error(ValueError("x" * 5000))
    assert len(text) == MAX_ERROR_CHARS
    assert text.startswith("ValueError: xxx")
    assert text.endswith("…")


def test_failure_log_groups_by_method_name_and_normalised_error() -> None:
    log = FailureLog()
    log.record("GET", "/[id]", HTTPError("bad http://h/1"), seen=10.0)
    log.record("GET", "/[id]", HTTPError("bad http://h/2"), seen=11.0)
    log.record("GET", "/[id]", HTTPError("bad http://h/3"), seen=12.0)
    log.record("POST", "/[id]", HTTPError("bad http://h/1"), seen=12.0)
    log.record("GET", "/[id]", "timeout", seen=13.0)
    assert log.snapshot() == (
        FailureSnapshot("GET", "/[id]", "HTTPError: bad http://h/[id]", 3, 10.0, 12.0),
        FailureSnapshot("POST", "/[id]", "HTTPError: bad http://h/[id]", 1, 12.0, 12.0),
        FailureSnapshot("GET", "/[id]", "timeout", 1, 13.0, 13.0),
    )
    assert not log.overflowed


def test_failure_log_caps_groups_into_one_overflow_group() -> None:
    log = FailureLog(max_groups=2)
    for i in range(10):
        log.record("GET", "/", f"error number {chr(65 + i)}", seen=float(i))
    log.record("GET", "/", "error number A", seen=20.0)  # an existing group still counts
    snap = log.snapshot()
    assert log.overflowed
    assert len(snap) == 3
    assert snap[0] == FailureSnapshot("", "", OVERFLOW_ERROR, 8, 2.0, 9.0)
    assert snap[1] == FailureSnapshot("GET", "/", "error number A", 2, 0.0, 20.0)
    log.clear()
    assert log.snapshot() == ()
    assert not log.overflowed


def test_failure_log_refuses_a_zero_cap() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        FailureLog(max_groups=0)
