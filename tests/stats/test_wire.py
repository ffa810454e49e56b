from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadhopper.stats._wire import MAX_VARINT_BYTES, Reader, WireError, Writer

LIMIT = 1 << (7 * MAX_VARINT_BYTES)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, LIMIT - 1), max_size=20),
    st.lists(st.integers(-(LIMIT // 2), LIMIT // 2 - 1), max_size=20),
    st.lists(st.floats(allow_nan=False), max_size=5),
    st.lists(st.text(alphabet=st.characters(exclude_categories=())), max_size=5),
    st.lists(st.integers(0, (1 << 64) - 1), max_size=50),
)
def test_every_field_reads_back_as_written(
    uints: list[int], sints: list[int], floats: list[float], texts: list[str], run: list[int]
) -> None:
    w = Writer()
    for u in uints:
        w.uint(u)
    for i in sints:
        w.sint(i)
    for f in floats:
        w.double(f)
    for t in texts:
        w.text(t)
    w.packed(run)
    r = Reader(w.getvalue())
    assert [r.uint() for _ in uints] == uints
    assert [r.sint() for _ in sints] == sints
    assert [r.double() for _ in floats] == floats
    assert [r.text() for _ in texts] == texts
    assert list(r.packed(len(run))) == run
    assert r.remaining == 0


@pytest.mark.parametrize(
    ("value", "size"), [(0, 1), (127, 1), (128, 2), (16_383, 2), (16_384, 3), (LIMIT - 1, 20)]
)
def test_varints_take_seven_bits_a_byte(value: int, size: int) -> None:
    w = Writer()
    w.uint(value)
    assert len(w.getvalue()) == size


@pytest.mark.parametrize(
    ("largest", "width"), [(0, 1), (255, 1), (256, 2), (65_535, 2), (65_536, 4), (1 << 32, 8)]
)
def test_a_packed_run_uses_the_narrowest_width_that_holds_its_largest_value(
    largest: int, width: int
) -> None:
    w = Writer()
    w.packed([0, largest, 1])
    data = w.getvalue()
    assert data[0] == width
    assert len(data) == 1 + 3 * width


def test_a_lone_surrogate_survives_the_trip() -> None:
    # An error text decoded with errors="surrogateescape" carries lone surrogates.
    text = b"bad \xff byte".decode("utf-8", "surrogateescape")
    w = Writer()
    w.text(text)
    assert Reader(w.getvalue()).text() == text


@pytest.mark.parametrize("value", [-1, LIMIT])
def test_integers_outside_the_range_are_refused_when_written(value: int) -> None:
    with pytest.raises(ValueError, match="out of the wire form's range"):
        Writer().uint(value)


@pytest.mark.parametrize(
    ("data", "read", "message"),
    [
        (b"", Reader.uint, "ends too early"),
        (b"\x80\x80", Reader.uint, "ends too early"),
        (b"\x80" * MAX_VARINT_BYTES + b"\x00", Reader.uint, "longer than"),
        (b"\x01\x02", Reader.double, "ends too early"),
        (b"\x05ab", Reader.text, "ends too early"),
        (b"\x02\xc3\x28", Reader.text, "not valid UTF-8"),
        (b"\x09", Reader.count, "ends too early"),
    ],
)
def test_bad_fields_are_refused(
    data: bytes, read: Callable[[Reader], object], message: str
) -> None:
    with pytest.raises(WireError, match=message):
        read(Reader(data))


def test_a_packed_run_must_have_a_known_width_and_all_its_bytes() -> None:
    with pytest.raises(WireError, match="width 3"):
        Reader(b"\x03\x00\x00\x00").packed(1)
    with pytest.raises(WireError, match="ends too early"):
        Reader(b"\x02\x00\x00\x00").packed(2)
    assert Reader(b"").packed(0) == ()
