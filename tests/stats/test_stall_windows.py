"""Event-loop stalls in the stats: recorded per window, on the wire, merged exactly."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadhopper.stats import StallDelta, StallSite, StatsCollector, WindowDelta
from loadhopper.stats._delta import MAGIC, VERSION
from loadhopper.stats._stalls import MAX_STALL_SITES, OVERFLOW_SITE

T0 = 1_700_000_000.0
SITES = (("locustfile.py", 12, "fetch"), ("locustfile.py", 30, "crunch"), ("lib/db.py", 4, "q"))


def test_a_stall_counts_in_the_open_window_and_in_the_run() -> None:
    c = StatsCollector(start_time=T0)
    c.record("GET", "/", 1.0, 0, None)
    c.record_stall("locustfile.py", 12, "fetch", 250.0)
    c.record_stall("locustfile.py", 12, "fetch", 150.0)
    c.record_stall("locustfile.py", 30, "crunch", 300.0)
    delta = c.close_window(T0 + 1, user_count=1)
    assert set(delta.stalls) == {
        StallDelta("locustfile.py", 12, "fetch", 2, 400.0, 250.0),
        StallDelta("locustfile.py", 30, "crunch", 1, 300.0, 300.0),
    }
    assert delta.stalled_ms == 700.0
    point = c.window_point(delta.window_index)
    # The point holds the window's whole blocked time and the site of its longest stall.
    assert (point.stalled_ms, point.stall_site) == (700.0, "locustfile.py:30")
    quiet = c.close_window(T0 + 2, user_count=1)
    assert quiet.stalls == ()
    assert (c.window_point(quiet.window_index).stalled_ms, quiet.stalled_ms) == (0.0, 0.0)
    health = c.snapshot(T0 + 2).health
    assert health.stall_sites == (
        StallSite("locustfile.py", 12, "fetch", 2, 400.0, 250.0),
        StallSite("locustfile.py", 30, "crunch", 1, 300.0, 300.0),
    )
    assert (health.stall_count, health.stalled_ms, health.stalled_windows) == (3, 700.0, 1)
    assert health.longest_stall is not None
    assert health.longest_stall.location == "locustfile.py:30"


def test_the_open_window_is_not_in_the_run_until_it_closes_and_reset_forgets() -> None:
    c = StatsCollector(start_time=T0)
    c.record_stall("locustfile.py", 12, "fetch", 250.0)
    assert c.snapshot(T0 + 0.5).health.stall_sites == ()  # only closed windows count
    c.close_window(T0 + 1, user_count=0)
    assert c.snapshot(T0 + 1).health.stall_count == 1
    c.reset(T0 + 1)
    health = c.snapshot(T0 + 1).health
    assert (health.stall_sites, health.stalled_windows) == ((), 0)


def test_sites_are_capped_with_one_overflow_site() -> None:
    c = StatsCollector(start_time=T0)
    for line in range(MAX_STALL_SITES + 5):
        c.record_stall("locustfile.py", line + 1, "f", 110.0)
    delta = c.close_window(T0 + 1, user_count=0)
    assert len(delta.stalls) == MAX_STALL_SITES + 1
    sites = c.snapshot(T0 + 1).health.stall_sites
    assert len(sites) == MAX_STALL_SITES + 1
    overflow = next(s for s in sites if s.file == OVERFLOW_SITE)
    assert (overflow.count, overflow.location) == (5, OVERFLOW_SITE)
    assert sum(s.count for s in sites) == MAX_STALL_SITES + 5


def test_stalls_survive_the_wire_and_bad_ones_are_refused() -> None:
    c = StatsCollector(start_time=T0)
    c.record("GET", "/", 1.0, 0, None)
    c.record_stall("locustfile.py", 12, "fétch", 250.5)
    delta = c.close_window(T0 + 1, user_count=3)
    data = delta.to_bytes()
    assert data.startswith(MAGIC + bytes([VERSION])) and VERSION >= 2
    assert WindowDelta.from_bytes(data) == delta
    for stall, message in (
        (StallDelta("f.py", 1, "f", 0, 0.0, 0.0), "no stalls"),
        (StallDelta("f.py", 1, "f", 1, 100.0, 200.0), "not within its total"),
        (StallDelta("f.py", 1, "f", 1, float("nan"), 0.0), "not within its total"),
        (StallDelta("f.py", 1, "f", 1, float("inf"), 1.0), "not within its total"),
    ):
        bad = WindowDelta(delta.window_index, delta.start, delta.end, 0, stalls=(stall,))
        with pytest.raises(ValueError, match=message):
            WindowDelta.from_bytes(bad.to_bytes())


def test_every_truncation_of_a_delta_with_stalls_is_refused() -> None:
    c = StatsCollector(start_time=T0)
    c.record_stall("locustfile.py", 12, "fetch", 250.0)
    data = c.close_window(T0 + 1, user_count=0).to_bytes()
    for end in range(len(data)):
        with pytest.raises(ValueError, match=r"tag|ends too early"):
            WindowDelta.from_bytes(data[:end])


# Stall lengths in whole milliseconds: their sums are exact in any order, so the merged
# totals can be compared with ==, as the rest of the merge property test does.
stalls = st.tuples(st.integers(0, 3), st.integers(0, len(SITES) - 1), st.integers(100, 5000))
windows = st.tuples(
    st.sampled_from((0.4, 1.0, 1.0, 2.5, 13.0)), st.lists(stalls, max_size=6), st.booleans()
)


@settings(max_examples=150, deadline=None)
@given(
    processes=st.integers(1, 4),
    run=st.lists(windows, min_size=1, max_size=14),
    through_bytes=st.booleans(),
    data=st.data(),
)
def test_merged_stalls_equal_one_collector_that_saw_them_all(
    processes: int,
    run: list[tuple[float, list[tuple[int, int, int]], bool]],
    through_bytes: bool,
    data: st.DataObject,
) -> None:
    single = StatsCollector(start_time=T0)
    workers = [StatsCollector(start_time=T0) for _ in range(processes)]
    master = StatsCollector(start_time=T0)
    now = T0
    for length, window_stalls, with_request in run:
        for who, site, ms in window_stalls:
            for c in (single, workers[who % processes]):
                c.record_stall(*SITES[site], float(ms))
        if with_request:
            for c in (single, workers[0]):
                c.record("GET", "/", 1.0, 0, None)
        now += length
        single.close_window(now, 0)
        for i in data.draw(st.permutations(range(processes))):  # in any order
            delta = workers[i].close_window(now, 0)
            master.merge(WindowDelta.from_bytes(delta.to_bytes()) if through_bytes else delta)
    merged, one = master.snapshot(now), single.snapshot(now)
    assert merged.health == one.health
    assert [(p.stalled_ms, p.stall_site) for p in merged.timeline] == [
        (p.stalled_ms, p.stall_site) for p in one.timeline
    ]
    assert merged == one
    assert one.health.stall_count == sum(len(w[1]) for w in run)
    assert one.health.stalled_windows == sum(1 for p in one.timeline if p.stalled_ms)
