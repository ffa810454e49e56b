"""How much of a response the client will hold: the bounds that keep a hostile target from
exhausting the load generator's memory or freezing its event loop.

The defaults fit a load test: pages and API responses are far below them, and a 64 MiB
bound per in-flight response keeps even a few hundred users downloading at once within a
machine's memory. A test that downloads large files raises them (`--max-body-size`, or
`max_body_size` on the User class), or uses `stream=True`, which keeps the body out of
memory altogether.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_MAX_BODY_SIZE", "DEFAULT_MAX_DECODED_SIZE", "BodyLimits"]

DEFAULT_MAX_BODY_SIZE = 64 * 1024 * 1024
"""Largest response body accepted as it comes off the wire (before decompression)."""

DEFAULT_MAX_DECODED_SIZE = 64 * 1024 * 1024
"""Largest response body accepted after gzip or deflate decoding (a compression bomb's bound)."""


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """The size bounds of one session's responses, in bytes.

    Attributes:
        max_body_size: bytes of body read off the wire; beyond it the request fails.
        max_decoded_size: bytes of body after decompression; beyond it the request fails.
    """

    max_body_size: int = DEFAULT_MAX_BODY_SIZE
    max_decoded_size: int = DEFAULT_MAX_DECODED_SIZE

    def __post_init__(self) -> None:
        for field, value in (
            ("max_body_size", self.max_body_size),
            ("max_decoded_size", self.max_decoded_size),
        ):
            if value <= 0:
                raise ValueError(f"{field} must be a positive number of bytes (got {value})")
