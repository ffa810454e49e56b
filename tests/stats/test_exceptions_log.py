from __future__ import annotations

import tracemalloc

from hypothesis import given, settings
from hypothesis import strategies as st

from loadhopper.stats import ExceptionSnapshot
from loadhopper.stats._errors import cut_mark
from loadhopper.stats._exceptions_log import (
    MAX_MESSAGE_CHARS,
    MAX_TRACEBACK_CHARS,
    OVERFLOW_EXCEPTION,
    ExceptionLog,
)


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


def test_a_long_message_keeps_its_start_and_says_how_much_was_cut() -> None:
    log = ExceptionLog()
    message = "ValueError: " + "m" * 2000
    log.record(message, "tb")
    (group,) = log.snapshot()
    assert group.message == message[:MAX_MESSAGE_CHARS] + "… (1,512 more characters)"
    assert group.traceback == "tb"


def test_a_long_traceback_keeps_its_end_from_a_line_start() -> None:
    frames = [f'  File "locustfile.py", line {n}, in task\n    step_{n}()\n' for n in range(400)]
    traceback = "".join(frames)
    log = ExceptionLog()
    log.record("KeyError: 'x'", traceback)
    (group,) = log.snapshot()
    mark, kept = group.traceback.split("\n", 1)
    assert traceback.endswith(kept) and kept.startswith('  File "locustfile.py"')
    assert len(kept) <= MAX_TRACEBACK_CHARS
    assert mark == cut_mark(len(traceback) - len(kept))
    assert kept.endswith("step_399()\n")  # the frame that raised is kept


def test_a_traceback_of_one_huge_line_is_cut_inside_it() -> None:
    traceback = '  File "gen.py", line 1, in f\n    x = [' + "1, " * 10_000 + "]\n"
    log = ExceptionLog()
    log.record("E", traceback)
    (group,) = log.snapshot()
    mark, kept = group.traceback.split("\n", 1)
    assert kept == traceback[-MAX_TRACEBACK_CHARS:]
    assert mark == cut_mark(len(traceback) - MAX_TRACEBACK_CHARS)


def test_exceptions_that_differ_only_in_the_cut_part_are_one_group() -> None:
    log = ExceptionLog()
    head = "ValueError: " + "v" * MAX_MESSAGE_CHARS
    tail = '  File "locustfile.py", line 9, in task\n    raise ValueError(body)\n'
    for i in range(20):
        outer = f'  File "outer_{i}.py", line {i}, in run\n' * (200 + i)
        log.record(head + f" id={i}" * (i + 1), outer + "x" * MAX_TRACEBACK_CHARS + "\n" + tail)
    log.record("ValueError: other", tail)
    snap = log.snapshot()
    assert [g.count for g in snap] == [20, 1]
    longest_message = len(head + " id=19" * 20)
    assert snap[0].message == head[:MAX_MESSAGE_CHARS] + cut_mark(
        longest_message - MAX_MESSAGE_CHARS
    )
    assert snap[0].traceback.endswith(tail)


def test_many_distinct_huge_exceptions_keep_the_stored_text_bounded() -> None:
    groups = 100
    log = ExceptionLog(max_groups=groups)
    for i in range(3 * groups):
        log.record(f"E{i}: " + "m" * 20_000, f"tb {i}\n" + "t" * 20_000)
    snap = log.snapshot()
    assert len(snap) == groups + 1
    assert snap[0] == ExceptionSnapshot(2 * groups, OVERFLOW_EXCEPTION, "")
    bound = MAX_MESSAGE_CHARS + MAX_TRACEBACK_CHARS + 2 * len(cut_mark(20_000)) + 1
    assert all(len(g.message) + len(g.traceback) <= bound for g in snap)
    assert sum(len(g.message) + len(g.traceback) for g in snap) <= groups * bound + len(
        OVERFLOW_EXCEPTION
    )


def test_the_memory_an_exception_log_holds_is_bounded_by_its_caps() -> None:
    # 1,000 distinct exceptions of 2 * 20 KB are 40 MB; the log keeps at most
    # 1,000 * (500 + 4,096) characters of them, about 4.6 MB.
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        log = ExceptionLog(max_groups=1000)
        for i in range(1000):
            log.record(f"E{i}: " + "m" * 20_000, f"tb {i}\n" + "t" * 20_000)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(log.snapshot()) == 1000
    assert held < 7_000_000, f"the log holds {held:,} bytes"


@settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=200),
    st.integers(min_value=0, max_value=30),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    st.integers(min_value=0, max_value=30),
)
def test_any_exception_is_stored_bounded_and_as_a_start_and_an_end(
    message_chunk: str, message_repeat: int, traceback_chunk: str, traceback_repeat: int
) -> None:
    message = message_chunk * message_repeat
    traceback = traceback_chunk * traceback_repeat
    log = ExceptionLog()
    log.record(message, traceback)
    (group,) = log.snapshot()
    if len(message) <= MAX_MESSAGE_CHARS:
        assert group.message == message
    else:
        assert group.message == message[:MAX_MESSAGE_CHARS] + cut_mark(
            len(message) - MAX_MESSAGE_CHARS
        )
    if len(traceback) <= MAX_TRACEBACK_CHARS:
        assert group.traceback == traceback
    else:
        mark, kept = group.traceback.split("\n", 1)
        assert traceback.endswith(kept) and len(kept) <= MAX_TRACEBACK_CHARS
        assert mark == cut_mark(len(traceback) - len(kept))
