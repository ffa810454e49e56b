from __future__ import annotations

import pytest
from report_snapshots import EXCEPTION, FAILURE, make_snapshot

from loadhopper.stats import StatsSnapshot


@pytest.fixture
def snapshot() -> StatsSnapshot:
    """Two rows, one failure group and one exception group."""
    return make_snapshot(failures=(FAILURE,), exceptions=(EXCEPTION,))
