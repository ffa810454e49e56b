"""What the console, CSV and JSON reports say about an open model and its corrected latency.

Two facts decide whether a report shows any of it, so that a closed-model run's outputs
stay exactly what they were (tools parse Locust's CSV columns):

- `StatsSnapshot.arrivals.active`: an arrival rate ran, so there are iterations due, late
  and dropped to count;
- a row with `corrected_count`: some samples had an intended start (an arrival rate, or
  `constant_pacing` / `constant_throughput` users), so they have a corrected latency.

Rates over "the last 10 seconds" use the same period as the periodic table's `req/s (10s)`
column and the history file's `Requests/s`, so that one line never mixes two periods.
"""

from __future__ import annotations

from loadhopper.stats import ArrivalTotals, StatsSnapshot

__all__ = [
    "RECENT_SECONDS",
    "any_corrected",
    "recent_arrivals",
    "recent_seconds",
    "shortfall_warning",
]

# The period behind the "current" rates (the collector's ring of 10 one-second windows).
RECENT_SECONDS = 10.0


def any_corrected(snapshot: StatsSnapshot) -> bool:
    """Whether any row (or the Aggregated row) has a latency corrected for coordinated omission."""
    return snapshot.total.corrected_count > 0 or any(r.corrected_count for r in snapshot.rows)


def recent_arrivals(snapshot: StatsSnapshot, period: float = RECENT_SECONDS) -> ArrivalTotals:
    """The iterations due, late and dropped in the windows that ended in the last `period` s."""
    since = snapshot.end_time - period
    points = [p for p in snapshot.timeline if p.time > since]
    return ArrivalTotals(
        due=sum(p.due for p in points),
        late=sum(p.late for p in points),
        dropped=sum(p.dropped for p in points),
    )


def recent_seconds(snapshot: StatsSnapshot, period: float = RECENT_SECONDS) -> float:
    """The length of the recent period: `period`, or less early in the run (never 0)."""
    elapsed = snapshot.end_time - snapshot.start_time
    return max(min(period, elapsed), 1e-9)


def shortfall_warning(totals: ArrivalTotals, *, when: str = "") -> str:
    """The one-line warning when the generator could not keep the rate ("" when it could).

    Args:
        totals: the iterations counted.
        when: where the counts come from, e.g. " in the last 10 s" ("" for the whole run).
    """
    if not totals.late and not totals.dropped:
        return ""
    return (
        f"The generator could not keep the arrival rate{when}: {totals.dropped:,} "
        f"{'iteration' if totals.dropped == 1 else 'iterations'} dropped, {totals.late:,} "
        "started late; raise --max-users or lower the rate."
    )
