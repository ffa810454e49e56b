"""Writing a report file whole: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["replace_file"]


def replace_file(path: str | os.PathLike[str], text: str) -> None:
    """Write `text` (UTF-8) to `path`, replacing any existing file atomically.

    The text goes to a hidden temporary file beside `path`, which is then renamed over it
    (a rename within one folder is atomic on POSIX and Windows). When anything fails, the
    temporary file is removed and `path` is left as it was, so writing again later is safe.

    Raises:
        OSError: the file could not be written (the folder is missing, the disk is full,
            too many files are open, ...).
    """
    target = Path(path)
    temporary = target.with_name(f".{target.name}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, target)
    finally:
        # A leftover temporary file is not worth hiding the error that matters.
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
