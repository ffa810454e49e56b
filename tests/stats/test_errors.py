from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadhopper._exceptions import CatchResponseError
from loadhopper.stats import FailureSnapshot, normalise_error
from loadhopper.stats._errors import (
    MAX_ERROR_CHARS,
    OVERFLOW_ERROR,
    SCAN_CHARS,
    FailureLog,
    cut_mark,
)


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


def test_long_messages_keep_their_start_and_say_how_much_was_cut() -> None:
    text = normalise_error(ValueError("x" * 5000))
    kept = "ValueError: " + "x" * (MAX_ERROR_CHARS - len("ValueError: "))
    assert text == kept + "… (4,712 more characters)"  # 5,012 characters in all


@pytest.mark.parametrize(
    ("size", "more"),
    [
        (MAX_ERROR_CHARS, 0),
        (MAX_ERROR_CHARS + 1, 1),
        (SCAN_CHARS, SCAN_CHARS - MAX_ERROR_CHARS),
        (SCAN_CHARS + 1, SCAN_CHARS + 1 - MAX_ERROR_CHARS),
        (20_000, 20_000 - MAX_ERROR_CHARS),
        (10_000_000, 10_000_000 - MAX_ERROR_CHARS),
    ],
)
def test_the_kept_text_is_bounded_whatever_the_size(size: int, more: int) -> None:
    raw = "y" * size  # normalising leaves it as it is, so the counts are exact
    expected = raw[:MAX_ERROR_CHARS] + (cut_mark(more) if more else "")
    assert normalise_error(raw) == expected
    log = FailureLog()
    log.record("GET", "/", raw, seen=1.0)
    assert log.snapshot()[0].error == expected


def test_a_huge_text_is_read_only_as_far_as_the_scan_goes() -> None:
    # 10 MB of URL path: templating it whole would split five million segments. Only the
    # first SCAN_CHARS are normalised; the rest is counted, not read.
    raw = "GET failed: http://h/" + "1/" * 5_000_000
    text = normalise_error(raw)
    assert text.startswith("GET failed: http://h/[id]/[id]/")
    assert len(text[: text.index("…")]) == MAX_ERROR_CHARS
    # The scan is the 21-character head, 589 "1/" and a lone "1" (21 + 1,178 + 1 = 1,200),
    # which normalise to 21 + 589 * len("[id]/") + len("[id]") = 2,970 characters.
    assert SCAN_CHARS == 1200
    assert text.endswith(cut_mark(2970 - MAX_ERROR_CHARS + len(raw) - SCAN_CHARS))


@settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=300),
    st.integers(min_value=0, max_value=40),
    st.text(max_size=50),
)
def test_any_text_normalises_to_a_bounded_text(chunk: str, repeat: int, tail: str) -> None:
    raw = chunk * repeat + tail
    text = normalise_error(raw)
    assert len(text) <= MAX_ERROR_CHARS + len(cut_mark(len(raw)))
    if len(raw) <= MAX_ERROR_CHARS:
        assert "more characters)" not in text or "more characters)" in raw


@settings(max_examples=200, deadline=None)
@given(
    st.text(min_size=1, max_size=SCAN_CHARS),
    st.text(max_size=2000),
    st.text(max_size=2000),
)
def test_texts_that_agree_on_the_scanned_prefix_are_one_group(
    start: str, first_tail: str, second_tail: str
) -> None:
    prefix = (start * (SCAN_CHARS // len(start) + 1))[:SCAN_CHARS]
    log = FailureLog()
    log.record("GET", "/", prefix + first_tail, seen=1.0)
    log.record("GET", "/", prefix + second_tail, seen=2.0)
    (group,) = log.snapshot()
    assert group.occurrences == 2
    longest = max(len(first_tail), len(second_tail))
    if longest:
        assert group.error.endswith(" more characters)")


def test_errors_that_differ_only_past_the_cut_are_one_group() -> None:
    log = FailureLog()
    head = "HTTPError: 500 Server Error for url: http://h/cats/7 body: " + "z" * 400
    for i in range(50):
        log.record("GET", "/cats/[id]", head + f" request {i}" + "!" * i, seen=float(i))
    log.record("GET", "/cats/[id]", "HTTPError: 404 Not Found", seen=60.0)
    snap = log.snapshot()
    assert [g.occurrences for g in snap] == [50, 1]
    kept = normalise_error(head)[:MAX_ERROR_CHARS]
    assert kept.startswith("HTTPError: 500 Server Error for url: http://h/cats/[id] body: z")
    # The mark counts the longest occurrence, whose "/7" normalised to "/[id]".
    longest = head + " request 49" + "!" * 49
    assert snap[0].error == kept + cut_mark(len(longest) + len("[id]") - 1 - MAX_ERROR_CHARS)


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


def test_many_distinct_huge_texts_keep_the_stored_text_bounded() -> None:
    groups = 100
    log = FailureLog(max_groups=groups)
    for i in range(3 * groups):
        log.record("GET", "/", f"error {i:04d} " + "x" * 20_000, seen=float(i))
    snap = log.snapshot()
    assert len(snap) == groups + 1  # the cap, and the overflow group
    assert snap[0].error == OVERFLOW_ERROR and snap[0].occurrences == 2 * groups
    mark = cut_mark(20_011 - MAX_ERROR_CHARS)
    assert {len(g.error) for g in snap[1:]} == {MAX_ERROR_CHARS + len(mark)}
    assert sum(len(g.error) for g in snap) <= groups * (MAX_ERROR_CHARS + len(mark)) + len(
        OVERFLOW_ERROR
    )


def test_the_memory_a_failure_log_holds_is_bounded_by_its_caps() -> None:
    # 2,000 distinct 20 KB texts are 40 MB. What the log keeps after recording them is its
    # groups (1,000 kept texts of 300 characters) and its cache of scanned prefixes (at
    # most 1,024 of 1,200 characters): about 2 MB whatever the texts were.
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        log = FailureLog(max_groups=1000)
        for i in range(2000):
            log.record("GET", "/", f"{i:05d} " + "x" * 20_000, seen=float(i))
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(log.snapshot()) == 1001
    assert held < 4_000_000, f"the log holds {held:,} bytes"
