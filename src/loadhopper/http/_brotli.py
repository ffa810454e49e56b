"""Content-Encoding: br, decoded when the `brotli` (or `brotlicffi`) package is importable.

Bounded like gzip (see `_decode`): a brotli body is decompressed in steps whose output is
capped with the decompressor's `output_buffer_limit`, counted against `max_decoded_size`,
the first step on the loop and the rest in a worker thread. Brotli's expansion has no small
bound like deflate's 1032:1, so there is no one-shot path: a tiny body still goes through
one capped step. The cap is a floor, not a ceiling: the library stops growing its buffer
once it reaches the cap, so one step gives up to about twice the cap (measured with brotli
1.2: 491 KiB for a 256 KiB cap). Steps ask for half of what they may give.

A library too old to take `output_buffer_limit` cannot decode within a bound, so it counts
as absent: `br` is then neither advertised in Accept-Encoding nor decoded.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

from loadhopper.http._decode import INLINE_DECODED, THREAD_STEP, decoded_too_large, invalid_coding

__all__ = ["AVAILABLE", "BrotliDecoding", "BrotliStreamDecoder", "decode_br"]

_ENCODING = b"br"


def _load() -> Any:
    for name in ("brotli", "brotlicffi"):
        try:
            library = importlib.import_module(name)
        except ImportError:
            continue
        try:
            library.Decompressor().process(b"", output_buffer_limit=1)
        except TypeError:
            continue  # too old to bound its output
        return library
    return None


_LIBRARY = _load()
AVAILABLE = _LIBRARY is not None
"""Whether `br` bodies are decoded (and so advertised in Accept-Encoding)."""

_ERROR: type[Exception] = getattr(_LIBRARY, "error", Exception)


def _cap(limit: int) -> int:
    """The `output_buffer_limit` of a step that may give about `limit` bytes."""
    return max(1, limit // 2)


def _process(decoder: Any, data: bytes, cap: int) -> bytes:
    try:
        out: bytes = decoder.process(data, output_buffer_limit=cap)
    except _ERROR as exc:
        raise invalid_coding(_ENCODING, exc) from exc
    return out


# A step that gives less than its cap has used all the input it had: if the stream has not
# ended then, the body was cut. (`can_accept_more_data()` cannot tell: it is true while
# output is still waiting, once the input is buffered.)


def decode_br(body: bytes, max_decoded: int) -> bytes | BrotliDecoding:
    """Decode a whole br body: the first step here, a `BrotliDecoding` if more follows.

    Raises:
        RemoteProtocolError: the body is not valid brotli data.
        ResponseTooLarge: it decodes to more than `max_decoded` bytes.
    """
    decoder = _LIBRARY.Decompressor()
    cap = _cap(min(INLINE_DECODED, max_decoded + 1))
    first = _process(decoder, body, cap)
    if len(first) > max_decoded:
        raise decoded_too_large(max_decoded)
    if decoder.is_finished():
        return first
    if len(first) < cap:
        raise invalid_coding(_ENCODING, "incomplete or truncated stream")
    return BrotliDecoding(decoder, first, max_decoded)


class BrotliDecoding:
    """A br body that did not decode within the inline step; `finish()` decodes the rest."""

    __slots__ = ("_decoder", "_first", "_max_decoded")

    def __init__(self, decoder: Any, first: bytes, max_decoded: int) -> None:
        self._decoder = decoder
        self._first = first
        self._max_decoded = max_decoded

    async def finish(self) -> bytes:
        """The whole decoded body, decoded in a worker thread while the loop runs on."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self.decode_rest)

    def decode_rest(self) -> bytes:
        """Decode the rest here and now (what `finish` runs in the worker thread)."""
        decoder, limit = self._decoder, self._max_decoded
        pieces = [self._first]
        size = len(self._first)
        while not decoder.is_finished():
            cap = _cap(min(THREAD_STEP, limit - size + 1))
            piece = _process(decoder, b"", cap)
            if len(piece) < cap and not decoder.is_finished():
                raise invalid_coding(_ENCODING, "incomplete or truncated stream")
            size += len(piece)
            if size > limit:
                pieces.clear()  # the traceback holds this frame: not its output
                raise decoded_too_large(limit)
            pieces.append(piece)
        return b"".join(pieces)


class BrotliStreamDecoder:
    """`StreamDecoder`'s contract for br: each call yields at most `limit` bytes."""

    __slots__ = ("_decoder", "_extra", "_fed", "_full")

    def __init__(self) -> None:
        self._decoder = _LIBRARY.Decompressor()
        self._extra = b""  # output past the last call's limit (the cap is not a ceiling)
        self._fed = False
        self._full = False  # the last step reached its cap, so more output may be waiting

    @property
    def pending(self) -> bool:
        """Whether output from earlier input may still be waiting (call `decode(b"", ...)`)."""
        return bool(self._extra) or (self._full and not self._decoder.is_finished())

    def decode(self, data: bytes, limit: int) -> bytes:
        """Up to `limit` decoded bytes from `data` (b"" to go on with earlier input).

        Raises:
            RemoteProtocolError: the body is not valid brotli data.
        """
        if self._extra:
            out, self._extra = self._extra[:limit], self._extra[limit:]
            return out
        decoder = self._decoder
        if decoder.is_finished():
            return b""  # bytes after the end of the stream are ignored, as for deflate
        self._fed = self._fed or bool(data)
        cap = _cap(limit)
        out = _process(decoder, data, cap)
        self._full = len(out) >= cap
        if len(out) > limit:
            out, self._extra = out[:limit], out[limit:]
        return out

    def finish(self) -> None:
        """Check, at the end of the raw body, that the brotli stream ended too.

        Raises:
            RemoteProtocolError: the body stopped in the middle of its brotli stream.
        """
        if self._fed and not self._decoder.is_finished():
            raise invalid_coding(_ENCODING, "incomplete or truncated stream")
