from __future__ import annotations

from loadhopper.stats import ExceptionSnapshot
from loadhopper.stats._exceptions_log import OVERFLOW_EXCEPTION, ExceptionLog


def test_exceptions_group_by_message_and_traceback_most_frequent_first() -> None:
    log = ExceptionLog()
    log.record("KeyError: 'x'", "tb1")
    log.record("ValueError: y", "tb2")
    log.record("ValueError: y", "tb2")
    log.record("KeyError: 'x'", "tb3")  # same message, other place: its own group
    assert log.snapshot() == (
        ExceptionSnapshot(2, "ValueError: y", "tb2"),
        ExceptionSnapshot(1, "KeyError: 'x'", "tb1"),
        ExceptionSnapshot(1, "KeyError: 'x'", "tb3"),
    )


def test_exception_groups_are_capped() -> None:
    log = ExceptionLog(max_groups=2)
    for i in range(5):
        log.record(f"error {i}", "tb")
    log.record("error 0", "tb")
    assert log.overflowed
    assert log.snapshot() == (
        ExceptionSnapshot(3, OVERFLOW_EXCEPTION, ""),
        ExceptionSnapshot(2, "error 0", "tb"),
        ExceptionSnapshot(1, "error 1", "tb"),
    )
    log.clear()
    assert log.snapshot() == ()
    assert not log.overflowed
