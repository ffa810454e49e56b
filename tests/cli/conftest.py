from __future__ import annotations

from collections.abc import Iterator

import pytest
from cli_target import serve


@pytest.fixture
def target() -> Iterator[object]:
    """A loopback HTTP server with the seed's routes (see cli_target.py)."""
    with serve() as server:
        yield server
