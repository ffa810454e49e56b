"""Request bodies (form, JSON, raw) and Basic credentials, as requests encodes them."""

from __future__ import annotations

import base64
import json as jsonlib
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from loadhopper.http._url import form_pairs

__all__ = ["Data", "basic_auth", "encode_body"]

Data = Mapping[str, object] | Iterable[tuple[str, object]] | str | bytes | None

_FORM = "application/x-www-form-urlencoded"
_JSON = "application/json"


def encode_body(data: Data, json: Any) -> tuple[bytes, str | None]:
    """The body bytes and the Content-Type they imply (None: leave it to the user).

    A dict or list of pairs is form-encoded (list values repeat the key); str is sent as
    UTF-8 and bytes as they are, with no Content-Type; `json` is used only when `data` is
    empty, as in requests.

    Raises:
        TypeError: `data` is of a type that cannot be sent (for example an open file).
    """
    if data is None or data == b"" or data == "":
        if json is None:
            return b"", None
        return jsonlib.dumps(json).encode("utf-8"), _JSON
    if isinstance(data, bytes):
        return data, None
    if isinstance(data, str):
        return data.encode("utf-8"), None
    if isinstance(data, Mapping | list | tuple):
        return urlencode(list(form_pairs(data))).encode("ascii"), _FORM
    raise TypeError(
        f"data of type {type(data).__name__} cannot be sent; pass a dict, a list of pairs, "
        "str or bytes (read files into bytes first)"
    )


def basic_auth(auth: tuple[str, str]) -> str:
    """The Authorization value for Basic credentials (latin-1 if possible, as requests)."""
    user, password = auth
    raw = f"{user}:{password}"
    try:
        encoded = raw.encode("latin-1")
    except UnicodeEncodeError:
        encoded = raw.encode("utf-8")
    return "Basic " + base64.b64encode(encoded).decode("ascii")
