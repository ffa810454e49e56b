"""Stats names for URLs: dynamic path segments and query values collapse into placeholders.

Locust names a request by its path with the query string, so `/17/delete` and `/18/delete`
become two rows, and a run over many ids grows without bound (reference/locust.md §5.4).
`template_url` maps both to `/[id]/delete` and `/search?q=cats&page=2` to
`/search?q=[v]&page=[v]`, keeping rows few and readable.
"""

from __future__ import annotations

import re

__all__ = ["template_url"]

ID = "[id]"
UUID = "[uuid]"
HASH = "[hash]"
VALUE = "[v]"

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# 16 hex digits is 64 bits: long enough that an ordinary word (even "deadbeef") is not taken
# for a hash, short enough to catch 64-bit ids, MD5/SHA digests and Mongo-style 24-char ids.
_HASH = re.compile(r"[0-9a-fA-F]{16,}")
_SUSPECT = re.compile(r"[0-9]|[a-fA-F]{16}")


def _template_segment(segment: str) -> str:
    if not segment:
        return segment
    # isascii() first: str.isdigit() also accepts characters such as "²" and "٣".
    if segment.isascii() and segment.isdigit():
        return ID
    if len(segment) == 36 and _UUID.fullmatch(segment):
        return UUID
    if len(segment) >= 16 and _HASH.fullmatch(segment):
        return HASH
    return segment


def _template_query(query: str) -> str:
    parts = []
    for pair in query.split("&"):
        key, sep, _ = pair.partition("=")
        # A bare key (`?debug`) has no value to hide; `q=` still gets the placeholder so
        # that `?q=` and `?q=x` share a row.
        parts.append(f"{key}={VALUE}" if sep else key)
    return "&".join(parts)


def template_url(path_with_query: str) -> str:
    """Collapse the dynamic parts of a URL path (and its query) into placeholders.

    An all-digit path segment becomes `[id]`, a UUID `[uuid]`, a run of 16 or more hex
    digits `[hash]`; every query value becomes `[v]` while the keys stay in order. Other
    segments, such as `v2` or `items`, are left alone.

    Args:
        path_with_query: A path such as `/users/17?tab=posts` (no scheme or host).

    Returns:
        The templated name, e.g. `/users/[id]?tab=[v]`.
    """
    path, sep, query = path_with_query.partition("?")
    # Fast path: a path with no digit and no 16-hex run has nothing to replace.
    if _SUSPECT.search(path):
        path = "/".join([_template_segment(s) for s in path.split("/")])
    if not sep:
        return path
    return f"{path}?{_template_query(query)}" if query else f"{path}?"
