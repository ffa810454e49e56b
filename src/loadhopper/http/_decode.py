"""Undoing a response's Content-Encoding (gzip, x-gzip, deflate; br in `_brotli`) within a
bound, off the loop.

Theory of operation. A compressed body is untrusted: 10 MB of gzip can expand to 10 GiB, and
one `zlib.decompress` of it would first allocate the whole output (a MemoryError, or the
machine's swap) and then hold the event loop, so every other user, for as long as it takes
(30 s were measured for that bomb). So nothing here calls `zlib.decompress` on a body that
could expand past a small bound: output is produced by `zlib.decompressobj` with
`max_length`, step by step, and counted against `max_decoded_size` as it comes.

Where the work runs is chosen by how much there is, without slowing the common case:

* A body of at most `ONE_SHOT_MAX` bytes is decoded with one `zlib.decompress`: deflate
  cannot expand more than 1032:1 (the zlib FAQ's "maximum compression factor"), so its
  output is provably under `INLINE_DECODED`. This keeps a tiny gzip response exactly as
  cheap as before: there a decompressobj costs 8 % more CPU instructions (measured with
  callgrind on a 49-byte body); from a few hundred bytes on it costs no more than one
  `zlib.decompress`, which has to grow its output buffer as it goes.
* Any larger body gets one inline step of at most `INLINE_DECODED` bytes of output on the
  loop: about 0.2 to 0.5 ms of CPU (zlib inflates 0.5 to 1.2 GB/s here), which is the whole
  body for nearly every real page and API response.
* A body that decodes to more than that continues in a worker thread of the loop's default
  executor (`Decoding.finish`), in steps of `THREAD_STEP`: zlib releases the GIL while it
  inflates, so the loop, and every other user on it, keeps running; and a bomb costs the
  thread at most `max_decoded_size` bytes of output before it fails. A thread rather than
  steps that yield to the loop: the decoding then takes no time from the loop at all where
  a spare core exists, instead of interleaving with every other user's requests.

Streamed bodies (`stream=True`) are decoded by `StreamDecoder`, piece by piece as the task
reads them, each call bounded by the size it asks for (`stream_decoder` picks the decoder).
"""

from __future__ import annotations

import asyncio
import zlib
from typing import TYPE_CHECKING, Protocol

from loadhopper._exceptions import RemoteProtocolError, ResponseTooLarge

__all__ = [
    "INLINE_DECODED",
    "ONE_SHOT_MAX",
    "THREAD_STEP",
    "Decoding",
    "PieceDecoder",
    "StreamDecoder",
    "decode_body",
    "decoded_too_large",
    "invalid_coding",
    "stream_decoder",
]

if TYPE_CHECKING:
    from loadhopper.http._brotli import BrotliDecoding

INLINE_DECODED = 256 * 1024
"""Most bytes of decoded output produced on the event loop for one response."""

ONE_SHOT_MAX = INLINE_DECODED // 1032
"""Largest compressed body decoded in one call: 1032:1 is deflate's largest expansion."""

THREAD_STEP = 1024 * 1024
"""Decoded bytes per step in the worker thread (each step is one bounded zlib call)."""

_GZIP = 16 + zlib.MAX_WBITS
_ZLIB = zlib.MAX_WBITS
_RAW = -zlib.MAX_WBITS
_WBITS = {b"gzip": _GZIP, b"x-gzip": _GZIP, b"deflate": _ZLIB}
_PROBE_MAX = 64 * 1024


def decoded_too_large(limit: int) -> ResponseTooLarge:
    """The failure for a body that decodes past `max_decoded_size` (one message per bound)."""
    return ResponseTooLarge(
        f"the response body decodes to more than {limit} bytes (max_decoded_size); raise it "
        "with --max-decoded-size or max_decoded_size on the User class"
    )


def invalid_coding(encoding: bytes, detail: object) -> RemoteProtocolError:
    """The failure for a body that is not valid data of its declared coding."""
    coding = encoding.decode("latin-1")
    return RemoteProtocolError(f"the response body is not valid {coding} data ({detail})")


def decode_body(
    body: bytes, encoding: bytes, max_decoded: int
) -> bytes | Decoding | BrotliDecoding:
    """Undo a Content-Encoding of gzip, x-gzip, deflate or br (when brotli is installed);
    other codings are left as they are.

    Returns:
        The decoded body, or a `Decoding` when it is too large to decode on the loop: await
        its `finish()` for the body.

    Raises:
        RemoteProtocolError: the body is not valid data for its declared coding.
        ResponseTooLarge: it decodes to more than `max_decoded` bytes.
    """
    wbits = _WBITS.get(encoding)
    if wbits is None:
        if encoding == b"br":
            from loadhopper.http import _brotli

            if _brotli.AVAILABLE:
                return _brotli.decode_br(body, max_decoded)
        return body
    if len(body) <= ONE_SHOT_MAX:
        try:
            decoded = zlib.decompress(body, wbits)
        except zlib.error as exc:
            if wbits != _ZLIB:
                raise invalid_coding(encoding, exc) from exc
            # Some servers send raw deflate without the zlib wrapper (RFC 9110 §8.4.1.2).
            try:
                decoded = zlib.decompress(body, _RAW)
            except zlib.error as raw_exc:
                raise invalid_coding(encoding, raw_exc) from raw_exc
        if len(decoded) > max_decoded:
            raise decoded_too_large(max_decoded)
        return decoded
    step = min(INLINE_DECODED, max_decoded + 1)
    decoder = zlib.decompressobj(wbits)
    try:
        first = decoder.decompress(body, step)
    except zlib.error as exc:
        if wbits != _ZLIB:
            raise invalid_coding(encoding, exc) from exc
        decoder = zlib.decompressobj(_RAW)
        try:
            first = decoder.decompress(body, step)
        except zlib.error as raw_exc:
            raise invalid_coding(encoding, raw_exc) from raw_exc
    if len(first) > max_decoded:
        raise decoded_too_large(max_decoded)
    if decoder.eof:
        if wbits != _GZIP or not decoder.unused_data:
            return first  # the common case: the whole body in the inline step
    elif len(first) < step and not decoder.unconsumed_tail:
        raise invalid_coding(encoding, "incomplete or truncated stream")
    return Decoding(decoder, first, wbits, encoding, max_decoded)


class Decoding:
    """A body that did not decode within the inline step; `finish()` decodes the rest."""

    __slots__ = ("_decoder", "_encoding", "_first", "_max_decoded", "_wbits")

    def __init__(
        self,
        decoder: zlib._Decompress,
        first: bytes,
        wbits: int,
        encoding: bytes,
        max_decoded: int,
    ) -> None:
        self._decoder = decoder
        self._first = first
        self._wbits = wbits
        self._encoding = encoding
        self._max_decoded = max_decoded

    async def finish(self) -> bytes:
        """The whole decoded body, decoded in a worker thread while the loop runs on.

        Raises:
            RemoteProtocolError: the body is not valid data for its declared coding.
            ResponseTooLarge: it decodes to more than `max_decoded_size` bytes.
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self.decode_rest)

    def decode_rest(self) -> bytes:
        """Decode the rest here and now (what `finish` runs in the worker thread)."""
        decoder = self._decoder
        pieces = [self._first]
        size = len(self._first)
        limit = self._max_decoded
        while True:
            if decoder.eof:
                data = decoder.unused_data
                if self._wbits != _GZIP or not data:
                    break  # past the end of a deflate stream, bytes are ignored (as zlib does)
                # Another gzip member follows (RFC 1952 §2.2): decoded on, as urllib3 does.
                decoder = zlib.decompressobj(self._wbits)
            else:
                data = decoder.unconsumed_tail
            try:
                piece = decoder.decompress(data, min(THREAD_STEP, limit - size + 1))
            except zlib.error as exc:
                raise invalid_coding(self._encoding, exc) from exc
            size += len(piece)
            if size > limit:
                pieces.clear()  # the error's traceback holds this frame: not its 64 MiB
                raise decoded_too_large(limit)
            if piece:
                pieces.append(piece)
            elif not decoder.eof and not decoder.unconsumed_tail:
                raise invalid_coding(self._encoding, "incomplete or truncated stream")
        return b"".join(pieces)


class PieceDecoder(Protocol):
    """What a streamed body's reader needs of a decoder (`StreamDecoder`'s contract)."""

    @property
    def pending(self) -> bool:
        """Whether output from earlier input may still be waiting."""

    def decode(self, data: bytes, limit: int) -> bytes:
        """Up to `limit` decoded bytes from `data` (b"" to go on with earlier input)."""

    def finish(self) -> None:
        """Check, at the end of the raw body, that the coded stream ended too."""


def stream_decoder(encoding: bytes) -> PieceDecoder | None:
    """The decoder of a streamed body in `encoding`, or None to pass it through as it is."""
    if encoding in _WBITS:
        return StreamDecoder(encoding)
    if encoding == b"br":
        from loadhopper.http import _brotli

        if _brotli.AVAILABLE:
            return _brotli.BrotliStreamDecoder()
    return None


class StreamDecoder:
    """Decodes a streamed body as it is read: each call yields at most `limit` bytes.

    Feed a raw piece with `decode(piece, limit)` when `pending` is false; while it is true,
    call `decode(b"", limit)` for the rest of the last piece's output first.
    """

    __slots__ = ("_decoder", "_encoding", "_fed", "_full", "_probe", "_wbits")

    def __init__(self, encoding: bytes) -> None:
        self._encoding = encoding
        self._wbits = _WBITS[encoding]
        self._decoder = zlib.decompressobj(self._wbits)
        # deflate only: the input kept until the first output, to start again as raw
        # deflate if the zlib wrapper turns out to be missing (as urllib3 does); None once
        # decided. Kept up to _PROBE_MAX bytes: no valid stream needs that many for output.
        self._probe: bytes | None = b"" if self._wbits == _ZLIB else None
        self._fed = False  # whether any input came: then the coded stream must end
        self._full = False  # the last call filled its limit, so more output may be waiting

    @staticmethod
    def handles(encoding: bytes) -> bool:
        """Whether `encoding` is one this decoder undoes (others are passed through)."""
        return encoding in _WBITS

    @property
    def pending(self) -> bool:
        """Whether output from earlier input may still be waiting (call `decode(b"", ...)`)."""
        decoder = self._decoder
        if decoder.eof:
            return self._wbits == _GZIP and bool(decoder.unused_data)
        return self._full or bool(decoder.unconsumed_tail)

    def decode(self, data: bytes, limit: int) -> bytes:
        """Up to `limit` decoded bytes from `data` (b"" to go on with earlier input).

        Raises:
            RemoteProtocolError: the body is not valid data for its declared coding.
        """
        decoder = self._decoder
        if decoder.eof:
            data = decoder.unused_data + data
            if self._wbits != _GZIP or not data:
                return b""
            decoder = self._decoder = zlib.decompressobj(self._wbits)  # the next gzip member
        elif decoder.unconsumed_tail:
            data = decoder.unconsumed_tail + data
        if data:
            self._fed = True
        probe = self._probe
        if probe is not None:
            probe = self._probe = probe + data if len(probe) < _PROBE_MAX else None
        try:
            out = decoder.decompress(data, limit)
        except zlib.error as exc:
            if probe is None:
                raise invalid_coding(self._encoding, exc) from exc
            return self._as_raw_deflate(probe, limit)
        if out:
            self._probe = None
        self._full = len(out) == limit
        return out

    def _as_raw_deflate(self, data: bytes, limit: int) -> bytes:
        """Start again on everything so far as raw deflate (RFC 9110 §8.4.1.2's servers)."""
        self._wbits = _RAW
        self._probe = None
        decoder = self._decoder = zlib.decompressobj(_RAW)
        try:
            out = decoder.decompress(data, limit)
        except zlib.error as exc:
            raise invalid_coding(self._encoding, exc) from exc
        self._full = len(out) == limit
        return out

    def finish(self) -> None:
        """Check, at the end of the raw body, that the coded stream ended too.

        Raises:
            RemoteProtocolError: the body stopped in the middle of its coded stream.
        """
        if self._fed and not self._decoder.eof:
            raise invalid_coding(self._encoding, "incomplete or truncated stream")
