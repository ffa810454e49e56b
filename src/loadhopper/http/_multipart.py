"""`files=`: multipart/form-data request bodies (RFC 7578), as requests builds them.

The form fields of `data=` become parts first, in their order, then the files. A file is
given as a file object, bytes or str (its filename is the object's `name`, else the field
name), or as a tuple `(filename, content)`, `(filename, content, content_type)` or
`(filename, content, content_type, headers)`; content is a file object (read here, once),
bytes or str. A part whose content is None is left out. A file part without a content type
has no Content-Type line, as in requests (servers take it as text/plain, RFC 7578 §4.4).

Names and filenames are quoted the way browsers (and urllib3) do for form fields: `"` as
%22, CR and LF as %0D and %0A, so that no value can break out of its header line.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["Files", "encode_multipart"]

Files = Mapping[str, Any] | Iterable[tuple[str, Any]]

_QUOTED = str.maketrans({'"': "%22", "\r": "%0D", "\n": "%0A"})


def encode_multipart(data: object, files: Files) -> tuple[bytes, str]:
    """The multipart/form-data body of `data`'s fields and `files`, and its Content-Type.

    Raises:
        ValueError: `data` is a str or bytes body, which cannot be combined with files.
        TypeError: a file value is of a type that cannot be sent.
    """
    if isinstance(data, str | bytes) and data:
        raise ValueError(
            "data= cannot be a str or bytes body when files= is given; pass the form fields "
            "as a dict or a list of pairs"
        )
    boundary = os.urandom(16).hex()
    delimiter = b"--" + boundary.encode("ascii") + b"\r\n"
    pieces: list[bytes] = []
    for name, value in _field_parts(data):
        pieces += (delimiter, _disposition(name, None), b"\r\n", value, b"\r\n")
    for name, spec in _items(files):
        part = _file_part(name, spec)
        if part is None:
            continue
        filename, content, content_type, headers = part
        pieces += (delimiter, _disposition(name, filename))
        if content_type is not None:
            pieces.append(f"Content-Type: {content_type}\r\n".encode("latin-1"))
        for key, header_value in (headers or {}).items():
            pieces.append(f"{key}: {header_value}\r\n".encode("latin-1"))
        pieces += (b"\r\n", content, b"\r\n")
    pieces.append(b"--" + boundary.encode("ascii") + b"--\r\n")
    return b"".join(pieces), f"multipart/form-data; boundary={boundary}"


def _items(fields: Any) -> Iterable[tuple[str, Any]]:
    if isinstance(fields, Mapping):
        return list(fields.items())
    return list(fields)


def _field_parts(data: object) -> Iterable[tuple[str, bytes]]:
    """The form fields of `data` as (name, bytes); list values repeat the name."""
    if not data:
        return
    for name, value in _items(data):
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            if item is None:
                continue
            yield _text(name), item if isinstance(item, bytes) else str(item).encode("utf-8")


def _file_part(
    name: str, spec: Any
) -> tuple[str | None, bytes, str | None, Mapping[str, str] | None] | None:
    """(filename, content, content type, extra headers) of one file, or None to skip it."""
    content_type: str | None = None
    headers: Mapping[str, str] | None = None
    if isinstance(spec, tuple | list):
        if not 2 <= len(spec) <= 4:
            raise TypeError(
                f"the file {name!r} is a tuple of {len(spec)} items; give (filename, content), "
                "(filename, content, content_type) or (filename, content, content_type, headers)"
            )
        filename, content = spec[0], spec[1]
        if len(spec) > 2:
            content_type = spec[2]
        if len(spec) > 3:
            headers = spec[3]
    else:
        filename, content = _guess_filename(spec) or name, spec
    if content is None:
        return None
    if hasattr(content, "read"):
        content = content.read()
    if isinstance(content, str):
        content = content.encode("utf-8")
    elif isinstance(content, bytearray | memoryview):
        content = bytes(content)
    elif not isinstance(content, bytes):
        raise TypeError(
            f"the file {name!r} is of type {type(content).__name__}; give a file object, "
            "bytes or str"
        )
    return (None if filename is None else _text(filename)), content, content_type, headers


def _guess_filename(value: Any) -> str | None:
    """The base name of a file object's `name`, as requests guesses it (not `<stdin>`)."""
    name = getattr(value, "name", None)
    if isinstance(name, str) and name and name[0] != "<" and name[-1] != ">":
        return os.path.basename(name)
    return None


def _disposition(name: str, filename: str | None) -> bytes:
    line = f'Content-Disposition: form-data; name="{name.translate(_QUOTED)}"'
    if filename is not None:
        line += f'; filename="{filename.translate(_QUOTED)}"'
    return (line + "\r\n").encode("utf-8")


def _text(value: object) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
