from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_support import chromium
from web_support import target_server


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives the UI in Debian's headless Chromium (Playwright)"
    )


@pytest.fixture
def target() -> Iterator[Any]:
    """A loopback HTTP target (`/` answers 200, `/fail` 500)."""
    with target_server() as server:
        yield server


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's headless Chromium (see browser_support)."""
    with chromium() as launched:
        yield launched
