"""The C fast path of the response reader (`_speedups.c`) against llhttp.

`parse_complete` may decline anything; what it accepts must be exactly what the llhttp
reader makes of the same bytes. The differential test below generates responses from a
grammar of ordinary and tricky pieces and holds the two to that; the tables pin the common
responses it must accept (or the fast path is pointless) and the cases it must decline.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections import Counter
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from loadhopper._exceptions import RequestError
from loadhopper.http import _protocol
from loadhopper.http._limits import DEFAULT_MAX_BODY_SIZE
from loadhopper.http._protocol import (
    DEFAULT_MAX_HEADER_BYTES,
    MAX_HEADERS,
    NO_BODY_LIMIT,
    FastParse,
    RawResponse,
    ResponseReader,
    fast_path_enabled,
)

NOT_BUILT = (
    "loadhopper.http._speedups (the C fast path, src/loadhopper/http/_speedups.c) cannot be "
    "imported: the dev install builds it with gcc; rebuild it with "
    "`.venv/bin/python -m pip install -e . --no-deps` ({})"
)


def require_speedups() -> FastParse:
    try:
        from loadhopper.http import _speedups
    except ImportError as exc:
        pytest.fail(NOT_BUILT.format(exc), pytrace=False)
    _speedups.configure(RawResponse)  # as _protocol does; also when LOADHOPPER_PURE_PYTHON is set
    return _speedups.parse_complete


@pytest.fixture(scope="module")
def parse_complete() -> FastParse:
    return require_speedups()


def pure_parse(
    data: bytes,
    max_body: int = DEFAULT_MAX_BODY_SIZE,
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
) -> RawResponse | None:
    """What the llhttp reader alone makes of `data` fed in one piece."""
    saved = _protocol._FAST
    _protocol._FAST = False  # start() reads it: this reader never tries the C path
    try:
        reader = ResponseReader(max_header_bytes)
        reader.start(False, max_body)
    finally:
        _protocol._FAST = saved
    assert not reader._fast
    return reader.feed(data)


def assert_same_response(fast: RawResponse, pure: RawResponse | None) -> None:
    assert type(fast) is RawResponse
    assert pure is not None, "C accepted a response llhttp finds incomplete"
    assert type(pure) is RawResponse
    assert fast._asdict() == pure._asdict()
    # Equal is not enough where Python's equality is loose: True == 1, bytes subclasses.
    assert type(fast.status) is int
    assert type(fast.reason) is bytes and type(fast.body) is bytes
    assert type(fast.keep_alive) is bool
    assert type(fast.headers) is list
    assert all(type(pair) is tuple and len(pair) == 2 for pair in fast.headers)
    assert all(type(part) is bytes for pair in fast.headers for part in pair)
    assert fast.content_encoding is None or type(fast.content_encoding) is bytes
    assert fast.set_cookies is None or type(fast.set_cookies) is list
    assert fast.location is None or type(fast.location) is bytes


# --- 1. built and enabled ------------------------------------------------------------------


def test_the_c_module_is_built_and_enabled() -> None:
    parse = require_speedups()
    if os.environ.get("LOADHOPPER_PURE_PYTHON"):
        # The whole suite was asked to run without it: then it must really be off.
        assert not fast_path_enabled()
        return
    assert fast_path_enabled(), "the C module imports, but _protocol did not enable it"
    assert _protocol._FAST is True
    assert _protocol._parse_complete is parse
    reader = ResponseReader()
    reader.start()
    assert reader._fast, "start() did not arm the fast path for a plain GET"


# --- 2. differential: C against llhttp on generated responses ------------------------------


@dataclass(frozen=True)
class Case:
    data: bytes
    max_body: int
    max_header_bytes: int


T = TypeVar("T")


def usually(
    draw: st.DrawFn, usual: st.SearchStrategy[T], odd: st.SearchStrategy[T], odd_percent: int
) -> T:
    """Draw from `usual`, or from `odd` in about `odd_percent` % of the draws."""
    if odd_percent and draw(st.integers(0, 99)) < odd_percent:
        return draw(odd)
    return draw(usual)


def pieces(*items: bytes | str) -> st.SearchStrategy[bytes]:
    return st.sampled_from(
        [item.encode("latin-1") if isinstance(item, str) else item for item in items]
    )


ODD_BYTES = pieces(
    b"\x00", b"\x01", b"\x0b", b"\x0c", b"\x7f", b"\x80", b"\xa0", b"\xff", b"\r", b"\n",
    b" ", b"\t", b'"', b"@", b",", b";", b":", b"(", b"{", b"\\", b"\r\n", b"\r\n ",
)  # fmt: skip
WHITESPACE = pieces(b"", b"", b"", b" ", b"  ", b"\t", b" \t", b"\t ")

VERSIONS = pieces(b"HTTP/1.1", b"HTTP/1.0")
ODD_VERSIONS = pieces(
    b"HTTP/2.0", b"HTTP/1.2", b"HTTP/0.9", b"http/1.1", b"HTTP/1.", b"HTTP/11", b"HTTP/1.1 ",
    b"HTTP/1.0\t", b"ICY", b"", b"HTTP/1.1\x00",
)  # fmt: skip
STATUSES = pieces(b"200", b"201", b"206", b"301", b"302", b"400", b"404", b"500", b"503", b"599")
ODD_STATUSES = st.one_of(
    pieces(
        b"100", b"101", b"103", b"199", b"204", b"304", b"600", b"999", b"099", b"000", b"20",
        b"2000", b"2x0", b"-20", b"", b"+20", b"1 0",
    ),
    st.integers(0, 999).map(lambda n: b"%03d" % n),
)  # fmt: skip
REASONS = pieces(b" OK", b" Found", b" Not Found", b" Internal Server Error", b"", b" ")
ODD_REASONS = pieces(
    b"  two spaces", b" a\tb", b" \t", b"\tOK", b" OK ", b" OK\t", b" caf\xe9", b" nul\x00x",
    b" del\x7f", b" cr\rx", b" lf\nx", b" ~!@#$%^&*()", b" 200 OK", b"OK",
)  # fmt: skip
EOLS = pieces(b"\r\n")
ODD_EOLS = pieces(b"\n", b"\r", b"\r\r\n", b"\n\r", b" \r\n", b"\r\n\r\n")

NAMES = pieces(
    "Server", "Date", "Content-Type", "Cache-Control", "X-Request-Id", "Vary", "ETag",
    "Keep-Alive", "Upgrade", "Via", "X-Content-Length", "Content-Lengthy", "Content-Encodings",
    "Locations", "Set-Cookie2", "Connectionx", "Transfer-Encodingx", "!#$%&'*+-.^_`|~09azAZ",
)  # fmt: skip
ODD_NAMES = pieces(
    "X A", "X\tA", "", "X\x00", "X\x7f", "\x80X", "X@Y", "x{y}", "X(Y)", "X/Y", "X=Y", "X;Y",
    'X"Y', "X,Y", "Content-Length ", "Content-Length\t", " X-Lead", "\tX-Lead", "X\r", "X\n",
)  # fmt: skip
VALUES = pieces(
    "nginx/1.25.3", "text/html; charset=utf-8", "Mon, 01 Jan 2024 00:00:00 GMT", "", "no-cache",
    "W/\"abc\"", "Accept-Encoding", "h2c", "1.1 proxy", "a\tb", "~!@#$%^&*()_+`-=[]{}|;':,./<>?",
)  # fmt: skip

# The headers the client or llhttp act on, with usual and odd values.
SPECIAL = {
    "Transfer-Encoding": pieces("chunked", "Chunked", "gzip", "identity", "gzip, chunked", ""),
    "Connection": pieces(
        "close", "keep-alive", "Keep-Alive", "CLOSE", "Close", "KEEP-ALIVE", "kEEP-aLIVE",
        "close, upgrade", "keep-alive, close", "upgrade", "Upgrade", "", "te", "close,",
        ",close", "closed", "keep-alive, te", "close close",
    ),
    "Proxy-Connection": pieces("close", "keep-alive"),
    "Set-Cookie": pieces("a=1", "b=2; Path=/; HttpOnly", "", 'c="x y"; Max-Age=0', "d=4, e=5"),
    "Location": pieces("/next", "https://example.com/a?b=c#d", "", "/x y", "//evil"),
    "Content-Encoding": pieces("gzip", "GZIP", "Br", "deflate, gzip", "Identity", "", "x-GzIp"),
    "Content-Length": pieces(
        "abc", "+5", "-1", "5,5", "5, 5", "0x5", "1 2", "", "99999999999999999999", "1e3", "5.0",
        "0000000000000000", "000000000000000",
    ),
}  # fmt: skip
# Weighted towards the ones the fast path may accept (it always declines the last three).
SPECIAL_NAMES = [
    *["Set-Cookie", "Location", "Content-Encoding", "Connection"] * 3,
    *["Transfer-Encoding", "Proxy-Connection", "Content-Length"],
]


@st.composite
def names(draw: st.DrawFn, name: str | None = None, wild: int = 1) -> bytes:
    """A header name: the one given, in some case, or a usual or odd one."""
    if name is None:
        raw = usually(draw, NAMES, ODD_NAMES, 5 * wild)
        if usually(draw, st.just(False), st.just(True), 3 * wild):  # an odd byte anywhere
            at = draw(st.integers(0, len(raw)))
            raw = raw[:at] + draw(ODD_BYTES) + raw[at:]
        return raw
    case = draw(st.sampled_from(["as-is", "lower", "upper", "mixed"]))
    if case == "lower":
        name = name.lower()
    elif case == "upper":
        name = name.upper()
    elif case == "mixed":
        flips = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
        name = "".join(c.swapcase() if flip else c for c, flip in zip(name, flips, strict=True))
    return name.encode("ascii")


@st.composite
def values(draw: st.DrawFn, core: st.SearchStrategy[bytes] = VALUES, wild: int = 1) -> bytes:
    """A header value: leading and trailing SP/HTAB around a core, now and then an odd byte."""
    value = draw(core)
    if usually(draw, st.just(False), st.just(True), 3 * wild):
        at = draw(st.integers(0, len(value)))
        value = value[:at] + draw(ODD_BYTES) + value[at:]
    return draw(WHITESPACE) + value + draw(WHITESPACE)


@st.composite
def header_lines(draw: st.DrawFn, wild: int) -> bytes:
    kind = draw(st.sampled_from(["plain"] * 12 + ["special"] * 6 + ["fold", "raw"] * wild))
    if kind == "fold":  # an obs-fold continuation line, rejected by llhttp
        return draw(pieces(b" folded", b"\tfolded", b" ", b"\t")) + draw(EOLS)
    if kind == "raw":  # no colon at all, or a colon first
        return draw(pieces(b"no colon", b":no-name", b"::", b"")) + draw(EOLS)
    if kind == "special":
        name = draw(st.sampled_from(SPECIAL_NAMES))
        line = draw(names(name)) + b":" + draw(values(SPECIAL[name], wild))
    else:
        line = draw(names(None, wild)) + b":" + draw(values(VALUES, wild))
    return line + usually(draw, EOLS, ODD_EOLS, 3 * wild)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """A response, mostly plausible: `wild` 0 draws no odd piece, 1 some, 2 twice as many."""
    wild = draw(st.integers(0, 2))
    status_line = (
        usually(draw, VERSIONS, ODD_VERSIONS, 4 * wild)
        + b" "
        + usually(draw, STATUSES, ODD_STATUSES, 8 * wild)
        + usually(draw, REASONS, ODD_REASONS, 10 * wild)
        + usually(draw, EOLS, ODD_EOLS, 3 * wild)
    )
    lines = draw(st.lists(header_lines(wild), max_size=6))
    filler = usually(draw, st.just(0), st.sampled_from([40, 97, 98, 99, 100, 101, 130]), 4 * wild)
    lines[draw(st.integers(0, len(lines))) : 0] = [b"X-Filler: 1\r\n"] * filler

    body = draw(st.binary(max_size=40))
    # Content-Length: the right one usually, else off by a little, absent or repeated.
    framing = usually(
        draw, st.just("exact"), st.sampled_from(["off", "none", "twice", "two"]), 10 * wild
    )
    if framing != "none":
        declared = len(body)
        if framing == "off":
            declared = max(0, declared + draw(st.sampled_from([-10, -2, -1, 1, 2, 10])))
        number = draw(pieces(b"", b"", b"", b"0", b"00")) + b"%d" % declared
        lengths = [number]
        if framing == "twice":
            lengths.append(number)
        elif framing == "two":
            lengths.append(b"%d" % (declared + 1))
        for length in lengths:
            line = draw(names("Content-Length")) + b":" + draw(WHITESPACE) + length
            line += draw(WHITESPACE) + usually(draw, EOLS, ODD_EOLS, 3 * wild)
            lines.insert(draw(st.integers(0, len(lines))), line)

    head = status_line + b"".join(lines) + usually(draw, EOLS, ODD_EOLS, 3 * wild)
    after = usually(
        draw,
        st.just(b""),
        pieces(b"\r\n", b"\n", b"x", b"\x00", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        5 * wild,
    )
    # Bounds: usually the defaults; else small ones, and ones right at this body or head.
    max_body = usually(
        draw,
        st.sampled_from([DEFAULT_MAX_BODY_SIZE, NO_BODY_LIMIT, 400]),
        st.one_of(
            st.sampled_from([0, 1, 5, 40, 399, 401]),
            st.integers(-1, 1).map(lambda delta: max(0, len(body) + delta)),
        ),
        30,
    )
    max_header_bytes = usually(
        draw,
        st.sampled_from([DEFAULT_MAX_HEADER_BYTES, 4096, 400]),
        st.one_of(
            st.sampled_from([16, 64, 200]),
            st.integers(-2, 2).map(lambda delta: max(1, len(head) + delta)),
        ),
        30,
    )
    return Case(head + body + after, max_body, max_header_bytes)


def check_against_llhttp(parse: FastParse, case: Case) -> RawResponse | None:
    """C's result for `case`, after checking that llhttp agrees with whatever C accepted."""
    fast = parse(case.data, case.max_body, case.max_header_bytes, MAX_HEADERS)
    try:
        pure = pure_parse(case.data, case.max_body, case.max_header_bytes)
    except RequestError as error:
        assert fast is None, f"C accepted what llhttp refuses ({error}): {fast}"
        return None
    if fast is not None:
        assert_same_response(fast, pure)
    return fast


TRICKY_ACCEPTED = [
    b"HTTP/1.1 200 OK\r\nX-A:\r\nX-B: 1\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX-A: \t v \t\r\nContent-Length: \t 00 \t\r\n\r\n",
    b"HTTP/1.1 200  two\tspaces \r\nConnection: CLOSE \r\nContent-Length: 1\r\n\r\nx",
    b"HTTP/1.0 599 \r\nConnection:\tKeep-Alive\t\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nSet-Cookie:\r\nLocation:\r\nLocation: /b\r\ncontent-encoding: \r\n"
    b"CONTENT-ENCODING:  X-GzIp\t \r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n!#$%&'*+-.^_`|~: ~\r\nUpgrade: h2c\r\nContent-Length: 0\r\n\r\n",
]


@settings(
    max_examples=800,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=cases())
@example(case=Case(TRICKY_ACCEPTED[0], 0, DEFAULT_MAX_HEADER_BYTES))
@example(case=Case(TRICKY_ACCEPTED[1], 0, 60))
@example(case=Case(TRICKY_ACCEPTED[2], 1, 100))
@example(case=Case(TRICKY_ACCEPTED[3], 0, 16))
@example(case=Case(TRICKY_ACCEPTED[4], 5, 400))
@example(case=Case(TRICKY_ACCEPTED[5], NO_BODY_LIMIT, 400))
def differential(parse: FastParse, tally: Counter[bool], case: Case) -> None:
    fast = check_against_llhttp(parse, case)
    tally[fast is not None] += 1
    event("C accepted" if fast is not None else "C declined")


def test_what_c_accepts_llhttp_reads_the_same_way(parse_complete: FastParse) -> None:
    tally: Counter[bool] = Counter()
    differential(parse_complete, tally)
    # Not vacuous: the grammar reaches both sides of the fast path, each many times.
    assert tally[True] >= 100, tally
    assert tally[False] >= 100, tally


@pytest.mark.parametrize("data", TRICKY_ACCEPTED)
def test_the_tricky_examples_are_accepted(parse_complete: FastParse, data: bytes) -> None:
    # So the examples above really test agreement, not two declines.
    assert check_against_llhttp(parse_complete, Case(data, 10, DEFAULT_MAX_HEADER_BYTES))


# --- 3. the common responses go fast --------------------------------------------------------

NGINX = (
    b"HTTP/1.1 200 OK\r\nServer: nginx/1.25.3\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
    b"Content-Type: text/html\r\nContent-Length: 13\r\nConnection: keep-alive\r\n\r\n"
    b"<p>hello</p>\n"
)
REDIRECT = (
    b"HTTP/1.1 302 Found\r\nLocation: https://example.com/login?next=%2F\r\n"
    b"Content-Length: 0\r\n\r\n"
)
CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
)

ACCEPTED = [
    pytest.param(
        NGINX,
        RawResponse(
            200,
            b"OK",
            [
                (b"Server", b"nginx/1.25.3"),
                (b"Date", b"Mon, 01 Jan 2024 00:00:00 GMT"),
                (b"Content-Type", b"text/html"),
                (b"Content-Length", b"13"),
                (b"Connection", b"keep-alive"),
            ],
            b"<p>hello</p>\n",
            True,
            None,
            None,
            None,
        ),
        id="nginx-200",
    ),
    pytest.param(
        REDIRECT,
        RawResponse(
            302,
            b"Found",
            [(b"Location", b"https://example.com/login?next=%2F"), (b"Content-Length", b"0")],
            b"",
            True,
            None,
            None,
            b"https://example.com/login?next=%2F",
        ),
        id="302-location",
    ),
    pytest.param(
        b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nnot found",
        RawResponse(
            404,
            b"Not Found",
            [(b"Content-Type", b"text/plain"), (b"Content-Length", b"9")],
            b"not found",
            True,
            None,
            None,
            None,
        ),
        id="404-body",
    ),
    pytest.param(
        b"HTTP/1.1 200 OK\r\nSet-Cookie: session=abc; Path=/; HttpOnly\r\n"
        b"Set-Cookie: csrftoken=xyz; Path=/\r\nContent-Encoding: GZIP \r\n"
        b"Content-Length: 3\r\n\r\n\x1f\x8b\x08",
        RawResponse(
            200,
            b"OK",
            [
                (b"Set-Cookie", b"session=abc; Path=/; HttpOnly"),
                (b"Set-Cookie", b"csrftoken=xyz; Path=/"),
                (b"Content-Encoding", b"GZIP "),
                (b"Content-Length", b"3"),
            ],
            b"\x1f\x8b\x08",
            True,
            b"gzip",
            [b"session=abc; Path=/; HttpOnly", b"csrftoken=xyz; Path=/"],
            None,
        ),
        id="two-set-cookies",
    ),
    pytest.param(
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
        RawResponse(
            200,
            b"OK",
            [(b"Connection", b"keep-alive"), (b"Content-Length", b"2")],
            b"ok",
            True,
            None,
            None,
            None,
        ),
        id="1.0-keep-alive",
    ),
    pytest.param(
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
        RawResponse(200, b"OK", [(b"Content-Length", b"2")], b"ok", False, None, None, None),
        id="1.0",
    ),
    pytest.param(
        b"HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno",
        RawResponse(
            500,
            b"Internal Server Error",
            [(b"Connection", b"close"), (b"Content-Length", b"2")],
            b"no",
            False,
            None,
            None,
            None,
        ),
        id="1.1-close",
    ),
    pytest.param(
        b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok",
        RawResponse(200, b"", [(b"Content-Length", b"2")], b"ok", True, None, None, None),
        id="no-reason",
    ),
]


@pytest.mark.parametrize(("data", "expected"), ACCEPTED)
def test_common_responses_take_the_fast_path(
    parse_complete: FastParse, data: bytes, expected: RawResponse
) -> None:
    fast = parse_complete(data, DEFAULT_MAX_BODY_SIZE, DEFAULT_MAX_HEADER_BYTES, MAX_HEADERS)
    assert fast is not None, "a common response was declined"
    assert fast._asdict() == expected._asdict()
    assert_same_response(fast, pure_parse(data))  # llhttp agrees with the written-out fields


# --- 4. what it declines ---------------------------------------------------------------------

OK2 = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
SIMPLE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
SIMPLE_HEAD = len(SIMPLE) - 5
FIVE_HEADERS = b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nContent-Length: 2\r\n\r\nok"
DEFAULTS = (DEFAULT_MAX_BODY_SIZE, DEFAULT_MAX_HEADER_BYTES, MAX_HEADERS)

DECLINED = {
    "chunked": (CHUNKED, DEFAULTS),
    "chunked-and-length": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        DEFAULTS,
    ),
    "te-identity": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nok", DEFAULTS),
    "no-content-length": (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello", DEFAULTS),
    "204": (b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", DEFAULTS),
    "304": (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", DEFAULTS),
    "101": (b"HTTP/1.1 101 Switching Protocols\r\nContent-Length: 0\r\n\r\n", DEFAULTS),
    "100-continue": (b"HTTP/1.1 100 Continue\r\n\r\n" + OK2, DEFAULTS),
    "199": (b"HTTP/1.1 199 Odd\r\nContent-Length: 0\r\n\r\n", DEFAULTS),
    "600": (b"HTTP/1.1 600 Odd\r\nContent-Length: 0\r\n\r\n", DEFAULTS),
    "099": (b"HTTP/1.1 099 Odd\r\nContent-Length: 0\r\n\r\n", DEFAULTS),
    "http-2": (b"HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok", DEFAULTS),
    "http-1.2": (b"HTTP/1.2 200 OK\r\nContent-Length: 2\r\n\r\nok", DEFAULTS),
    "body-short": (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", DEFAULTS),
    "body-long": (SIMPLE + b"!", DEFAULTS),
    "pipelined": (SIMPLE + SIMPLE, DEFAULTS),
    "crlf-after-body": (SIMPLE + b"\r\n", DEFAULTS),
    "head-incomplete": (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", DEFAULTS),
    "status-incomplete": (b"HTTP/1.1 200 OK", DEFAULTS),
    "empty": (b"", DEFAULTS),
    "bare-lf-status": (b"HTTP/1.1 200 OK\nContent-Length: 2\r\n\r\nok", DEFAULTS),
    "bare-lf-header": (b"HTTP/1.1 200 OK\r\nContent-Length: 2\n\r\nok", DEFAULTS),
    "bare-lf-end": (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\nok", DEFAULTS),
    "bare-cr": (b"HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 2\r\n\r\nok", DEFAULTS),
    "obs-fold": (b"HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\nContent-Length: 2\r\n\r\nok", DEFAULTS),
    "nul-in-value": (b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok", DEFAULTS),
    "del-in-value": (b"HTTP/1.1 200 OK\r\nX-A: a\x7fb\r\nContent-Length: 2\r\n\r\nok", DEFAULTS),
    "obs-text-in-value": (
        b"HTTP/1.1 200 OK\r\nX-A: caf\xe9\r\nContent-Length: 2\r\n\r\nok",
        DEFAULTS,
    ),
    "obs-text-in-reason": (b"HTTP/1.1 200 Caf\xe9\r\nContent-Length: 2\r\n\r\nok", DEFAULTS),
    "space-before-colon": (b"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok", DEFAULTS),
    "empty-name": (b"HTTP/1.1 200 OK\r\n: x\r\nContent-Length: 2\r\n\r\nok", DEFAULTS),
    "odd-name": (b"HTTP/1.1 200 OK\r\nX@Y: x\r\nContent-Length: 2\r\n\r\nok", DEFAULTS),
    "too-many-headers": (FIVE_HEADERS, (DEFAULT_MAX_BODY_SIZE, DEFAULT_MAX_HEADER_BYTES, 4)),
    "header-bytes-over": (SIMPLE, (DEFAULT_MAX_BODY_SIZE, SIMPLE_HEAD - 1, MAX_HEADERS)),
    "length-over-max-body": (SIMPLE, (4, DEFAULT_MAX_HEADER_BYTES, MAX_HEADERS)),
    "duplicate-length": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
        DEFAULTS,
    ),
    "length-list": (b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok", DEFAULTS),
    "length-plus": (b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok", DEFAULTS),
    "length-empty": (b"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", DEFAULTS),
    "length-16-digits": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 0000000000000002\r\n\r\nok",
        DEFAULTS,
    ),
    "connection-close-upgrade": (
        b"HTTP/1.1 200 OK\r\nConnection: close, upgrade\r\nContent-Length: 2\r\n\r\nok",
        DEFAULTS,
    ),
    "connection-upgrade": (
        b"HTTP/1.1 200 OK\r\nConnection: upgrade\r\nUpgrade: h2c\r\nContent-Length: 2\r\n\r\nok",
        DEFAULTS,
    ),
    "connection-twice": (
        b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nConnection: close\r\n"
        b"Content-Length: 2\r\n\r\nok",
        DEFAULTS,
    ),
    "connection-empty": (
        b"HTTP/1.1 200 OK\r\nConnection:\r\nContent-Length: 2\r\n\r\nok",
        DEFAULTS,
    ),
    "proxy-connection": (
        b"HTTP/1.1 200 OK\r\nProxy-Connection: close\r\nContent-Length: 2\r\n\r\nok",
        DEFAULTS,
    ),
}


@pytest.mark.parametrize(("data", "limits"), DECLINED.values(), ids=DECLINED.keys())
def test_everything_else_is_declined(
    parse_complete: FastParse, data: bytes, limits: tuple[int, int, int]
) -> None:
    assert parse_complete(data, *limits) is None


def test_the_bounds_are_inclusive(parse_complete: FastParse) -> None:
    # Each decline above for a bound sits right next to an acceptance.
    assert parse_complete(FIVE_HEADERS, DEFAULT_MAX_BODY_SIZE, DEFAULT_MAX_HEADER_BYTES, 5)
    assert parse_complete(FIVE_HEADERS, DEFAULT_MAX_BODY_SIZE, DEFAULT_MAX_HEADER_BYTES, 4) is None
    assert parse_complete(FIVE_HEADERS, DEFAULT_MAX_BODY_SIZE, DEFAULT_MAX_HEADER_BYTES, 0) is None
    assert parse_complete(SIMPLE, DEFAULT_MAX_BODY_SIZE, SIMPLE_HEAD, MAX_HEADERS)
    assert parse_complete(SIMPLE, DEFAULT_MAX_BODY_SIZE, SIMPLE_HEAD - 1, MAX_HEADERS) is None
    assert parse_complete(SIMPLE, 5, DEFAULT_MAX_HEADER_BYTES, MAX_HEADERS)
    assert parse_complete(SIMPLE, 4, DEFAULT_MAX_HEADER_BYTES, MAX_HEADERS) is None
    head = b"HTTP/1.1 200 OK\r\n" + b"X-F: 1\r\n" * (MAX_HEADERS - 1)
    assert parse_complete(head + b"Content-Length: 2\r\n\r\nok", *DEFAULTS)
    assert parse_complete(head + b"X-G: 1\r\nContent-Length: 2\r\n\r\nok", *DEFAULTS) is None


class Bytes(bytes):
    pass


@pytest.mark.parametrize(
    "args",
    [
        (bytearray(SIMPLE), *DEFAULTS),
        (memoryview(SIMPLE), *DEFAULTS),
        (SIMPLE.decode(), *DEFAULTS),
        (Bytes(SIMPLE), *DEFAULTS),
        (None, *DEFAULTS),
        (SIMPLE, DEFAULT_MAX_BODY_SIZE, DEFAULT_MAX_HEADER_BYTES),
        (SIMPLE, *DEFAULTS, 0),
        (SIMPLE, "5", DEFAULT_MAX_HEADER_BYTES, MAX_HEADERS),
        (SIMPLE, DEFAULT_MAX_BODY_SIZE, 1.5, MAX_HEADERS),
    ],
    ids=[
        "bytearray", "memoryview", "str", "bytes-subclass", "none", "three-args", "five-args",
        "str-bound", "float-bound",
    ],
)  # fmt: skip
def test_anything_but_bytes_and_ints_is_a_type_error(
    parse_complete: FastParse, args: tuple[object, ...]
) -> None:
    unchecked: Any = parse_complete  # the wrong types are the point
    with pytest.raises(TypeError):
        unchecked(*args)


# --- 5. through ResponseReader, on both paths in turn ---------------------------------------


@pytest.fixture
def c_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bytes, bool]]:
    """The fast path on, with every call of it recorded: (data, whether it accepted)."""
    parse = require_speedups()
    calls: list[tuple[bytes, bool]] = []

    def recording(
        data: bytes, max_body: int, max_header_bytes: int, max_headers: int
    ) -> RawResponse | None:
        raw = parse(data, max_body, max_header_bytes, max_headers)
        calls.append((data, raw is not None))
        return raw

    monkeypatch.setattr(_protocol, "_FAST", True)
    monkeypatch.setattr(_protocol, "_parse_complete", recording)
    return calls


def feed(reader: ResponseReader, chunks: list[bytes]) -> RawResponse:
    for chunk in chunks[:-1]:
        assert reader.feed(chunk) is None
    raw = reader.feed(chunks[-1])
    assert raw is not None
    assert reader.complete and not reader.trailing_garbage
    return raw


def test_a_keep_alive_connection_mixes_both_paths(c_calls: list[tuple[bytes, bool]]) -> None:
    reader = ResponseReader()
    nginx = ACCEPTED[0].values[1]

    reader.start()
    assert feed(reader, [NGINX]) == nginx
    assert c_calls == [(NGINX, True)] and reader.keep_alive

    reader.start()  # chunked, in two reads: C declines the first, llhttp reads both
    raw = feed(reader, [CHUNKED[:60], CHUNKED[60:]])
    assert (raw.status, raw.body, raw.keep_alive) == (200, b"hello world", True)
    assert raw.headers == [(b"Transfer-Encoding", b"chunked")]
    assert c_calls[1:] == [(CHUNKED[:60], False)]

    reader.start()
    raw = feed(reader, [REDIRECT])
    assert (raw.status, raw.location, raw.body, raw.keep_alive) == (
        302,
        b"https://example.com/login?next=%2F",
        b"",
        True,
    )
    assert c_calls[2:] == [(REDIRECT, True)]

    no_content = b"HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n"
    reader.start()  # llhttp again, after a response it never saw
    raw = feed(reader, [no_content])
    assert (raw.status, raw.reason, raw.headers, raw.body) == (
        204,
        b"No Content",
        [(b"Server", b"x")],
        b"",
    )
    assert reader.keep_alive and c_calls[3:] == [(no_content, False)]

    reader.start(True)  # HEAD: never the fast path
    raw = feed(reader, [b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"])
    assert (raw.status, raw.headers, raw.body) == (200, [(b"Content-Length", b"1234")], b"")
    assert reader.keep_alive and len(c_calls) == 4

    reader.start()
    assert feed(reader, [NGINX]) == nginx
    assert c_calls[4:] == [(NGINX, True)]

    interim = b"HTTP/1.1 100 Continue\r\n\r\n" + SIMPLE
    reader.start()
    raw = feed(reader, [interim])
    assert (raw.status, raw.reason, raw.body) == (200, b"OK", b"hello")
    assert raw.headers == [(b"Content-Type", b"text/plain"), (b"Content-Length", b"5")]
    assert c_calls[5:] == [(interim, False)]

    reader.start(False, 4)  # over the body bound: C declines, llhttp raises
    with pytest.raises(RequestError, match="larger than 4 bytes"):
        reader.feed(SIMPLE)
    assert c_calls[6:] == [(SIMPLE, False)]


def test_a_keep_alive_connection_ends_with_a_close(c_calls: list[tuple[bytes, bool]]) -> None:
    reader = ResponseReader()
    for _ in range(2):
        reader.start()
        assert feed(reader, [SIMPLE]).body == b"hello"
    closing = b"HTTP/1.1 200 OK\r\nConnection: close, te\r\nContent-Length: 2\r\n\r\nok"
    reader.start()
    raw = feed(reader, [closing])
    assert (raw.body, raw.keep_alive, reader.keep_alive) == (b"ok", False, False)
    reader.start()
    raw = feed(reader, [b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"])
    assert (raw.body, raw.keep_alive, reader.keep_alive) == (b"ok", False, False)
    assert [accepted for _, accepted in c_calls] == [True, True, False, True]


@pytest.mark.parametrize("cut", range(1, len(SIMPLE)))
def test_a_response_split_in_two_reads_goes_to_llhttp(
    c_calls: list[tuple[bytes, bool]], cut: int
) -> None:
    reader = ResponseReader()
    reader.start()
    raw = feed(reader, [SIMPLE[:cut], SIMPLE[cut:]])
    pure = pure_parse(SIMPLE)
    assert pure is not None and raw._asdict() == pure._asdict()
    assert (raw.status, raw.reason, raw.body, raw.keep_alive) == (200, b"OK", b"hello", True)
    assert c_calls == [(SIMPLE[:cut], False)]  # tried once, on the first read only
    reader.start()  # and the next whole response goes fast again
    assert feed(reader, [SIMPLE]) == raw
    assert c_calls[1:] == [(SIMPLE, True)]


# --- 6. LOADHOPPER_PURE_PYTHON=1 --------------------------------------------------------------

PURE_CHILD = textwrap.dedent(
    """
    import sys
    from loadhopper.http import _protocol

    assert not _protocol.fast_path_enabled(), "LOADHOPPER_PURE_PYTHON=1 left the C path on"
    assert "loadhopper.http._speedups" not in sys.modules
    reader = _protocol.ResponseReader()
    reader.start()
    assert not reader._fast
    raw = reader.feed(b"HTTP/1.1 200 OK\\r\\nSet-Cookie: a=1\\r\\nContent-Length: 2\\r\\n\\r\\nok")
    expected = (200, b"OK", [(b"Set-Cookie", b"a=1"), (b"Content-Length", b"2")], b"ok", True,
                None, [b"a=1"], None)
    assert raw == expected, raw
    assert type(raw) is _protocol.RawResponse
    print("pure ok")
    """
)


def test_loadhopper_pure_python_turns_the_fast_path_off() -> None:
    env = {**os.environ, "LOADHOPPER_PURE_PYTHON": "1"}
    done = subprocess.run(
        [sys.executable, "-c", PURE_CHILD], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "pure ok"
