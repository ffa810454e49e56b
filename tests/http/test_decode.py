"""Content-Encoding decoding within bounds, with scripted bodies (no sockets)."""

from __future__ import annotations

import asyncio
import gzip
import zlib

import pytest
from _loopback import gzip_bomb, text_body

from loadhopper._exceptions import RemoteProtocolError, ResponseTooLarge
from loadhopper.http._decode import (
    INLINE_DECODED,
    ONE_SHOT_MAX,
    Decoding,
    StreamDecoder,
    decode_body,
)

DECODED_MESSAGE = (
    "the response body decodes to more than 67108864 bytes (max_decoded_size); raise it "
    "with --max-decoded-size or max_decoded_size on the User class"
)


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def decode(body: bytes, encoding: bytes, limit: int = 64 << 20) -> bytes:
    """decode_body to the end, in a worker thread when it says so (as the session does)."""
    result = decode_body(body, encoding, limit)
    return result if isinstance(result, bytes) else asyncio.run(result.finish())


def test_unknown_codings_are_left_alone() -> None:
    assert decode_body(b"raw", b"zstd", 10) == b"raw"


@pytest.mark.parametrize("size", [100, 50_000, 3 * INLINE_DECODED], ids=["tiny", "page", "big"])
@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        (b"gzip", gzip.compress),
        (b"x-gzip", gzip.compress),
        (b"deflate", zlib.compress),
        (b"deflate", raw_deflate),
    ],
    ids=["gzip", "x-gzip", "deflate", "raw-deflate"],
)
def test_every_coding_and_size_decodes_to_the_original(
    encoding: bytes, encode: object, size: int
) -> None:
    original = text_body(size)
    body = encode(original)  # type: ignore[operator]
    assert decode(body, encoding) == original


def test_small_bodies_decode_inline_and_large_ones_say_so() -> None:
    tiny = gzip.compress(b"hello " * 10)
    assert len(tiny) <= ONE_SHOT_MAX
    assert decode_body(tiny, b"gzip", 1 << 20) == b"hello " * 10
    page = gzip.compress(text_body(100_000))
    assert len(page) > ONE_SHOT_MAX
    assert decode_body(page, b"gzip", 1 << 20) == text_body(100_000)  # one inline step
    big = gzip.compress(text_body(INLINE_DECODED + 1))
    assert isinstance(decode_body(big, b"gzip", 1 << 20), Decoding)  # the rest off the loop


def test_concatenated_gzip_members_are_all_decoded() -> None:
    first, second = text_body(INLINE_DECODED), b"second member"
    assert decode(gzip.compress(first) + gzip.compress(second), b"gzip") == first + second


@pytest.mark.parametrize("size", [200, 100_000, 2 * INLINE_DECODED], ids=["tiny", "page", "big"])
def test_the_decoded_bound_is_exact(size: int) -> None:
    body = gzip.compress(text_body(size))
    assert decode(body, b"gzip", limit=size) == text_body(size)
    with pytest.raises(ResponseTooLarge, match=rf"decodes to more than {size - 1} bytes"):
        decode(body, b"gzip", limit=size - 1)


def test_a_gzip_bomb_fails_at_the_bound_with_a_groupable_message() -> None:
    bomb = gzip_bomb(1024)  # 1 MiB of gzip, 1 GiB of zeros
    with pytest.raises(ResponseTooLarge) as raised:
        decode(bomb, b"gzip")
    assert str(raised.value) == DECODED_MESSAGE


def test_decoding_a_large_body_leaves_the_event_loop_running() -> None:
    # The bomb's 64 MiB are decoded in a worker thread: a coroutine that only yields keeps
    # running meanwhile (decoded on the loop, it would not run at all until the end).
    pending = decode_body(gzip_bomb(1024), b"gzip", 64 << 20)
    assert isinstance(pending, Decoding)
    turns = 0

    async def main() -> None:
        nonlocal turns
        task = asyncio.ensure_future(pending.finish())
        while not task.done():
            turns += 1
            await asyncio.sleep(0)
        with pytest.raises(ResponseTooLarge):
            task.result()

    asyncio.run(asyncio.wait_for(main(), timeout=30))
    assert turns > 1


@pytest.mark.parametrize("encoding", [b"gzip", b"deflate"])
def test_truncated_and_corrupt_bodies_are_protocol_errors(encoding: bytes) -> None:
    whole = (gzip.compress if encoding == b"gzip" else zlib.compress)(text_body(5000))
    for body in (whole[: len(whole) // 2], b"not compressed at all" * 20, b"junk"):
        with pytest.raises(RemoteProtocolError, match=f"not valid {encoding.decode()} data"):
            decode(body, encoding)


def test_the_stream_decoder_bounds_each_piece() -> None:
    bomb = gzip_bomb(16)
    decoder = StreamDecoder(b"gzip")
    total = 0
    pieces = 0
    for start in range(0, len(bomb), 4096):
        piece = decoder.decode(bomb[start : start + 4096], 65536)
        while True:
            assert len(piece) <= 65536
            total += len(piece)
            pieces += 1
            if not decoder.pending:
                break
            piece = decoder.decode(b"", 65536)
    decoder.finish()
    assert total == 16 << 20 and pieces >= 256


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [(b"gzip", gzip.compress), (b"deflate", zlib.compress), (b"deflate", raw_deflate)],
    ids=["gzip", "deflate", "raw-deflate"],
)
def test_the_stream_decoder_reads_any_split(encoding: bytes, encode: object) -> None:
    original = text_body(20_000)
    body = encode(original)  # type: ignore[operator]
    for step in (1, 7, 1000, len(body)):
        decoder = StreamDecoder(encoding)
        out = []
        for start in range(0, len(body), step):
            out.append(decoder.decode(body[start : start + step], 1 << 20))
            while decoder.pending:
                out.append(decoder.decode(b"", 1 << 20))
        decoder.finish()
        assert b"".join(out) == original


def test_the_stream_decoder_sees_a_truncated_stream() -> None:
    body = gzip.compress(text_body(5000))
    decoder = StreamDecoder(b"gzip")
    decoder.decode(body[:-20], 1 << 20)
    with pytest.raises(RemoteProtocolError, match="truncated"):
        decoder.finish()
