"""Locust's `environment.stats` attribute names, as locustfile listeners read them."""

from __future__ import annotations

from loadhopper.stats import StatsCollector

T0 = 1_700_000_000.0


def test_total_answers_the_usual_quitting_listener_checks() -> None:
    stats = StatsCollector(start_time=T0)
    for ms in (1.0, 1.5, 2.0):  # exact buckets (below 2.048 ms)
        stats.record("GET", "/", ms, 1000, None)
    stats.record("GET", "/", 1.0, 0, "bad")
    stats.close_window(T0 + 2, user_count=1)
    total = stats.total
    assert (total.name, total.method) == ("Aggregated", "")
    assert total.num_requests == 4
    assert total.num_failures == 1
    assert total.fail_ratio == 0.25
    assert total.fail_ratio > 0.01
    assert total.avg_response_time == 1.5
    assert total.median_response_time == 1.5
    assert total.get_response_time_percentile(0.95) == 2.0
    assert total.max_response_time == 2.0
    assert total.min_response_time == 1.0
    assert total.total_response_time == 4.5
    assert total.avg_content_length == 750.0
    assert total.total_rps == 2.0
    assert total.current_rps == 2.0
    assert total.total_fail_per_sec == 0.5
    assert total.current_fail_per_sec == 0.5
    assert total.start_time == T0


def test_views_read_live_state_including_the_open_window() -> None:
    stats = StatsCollector(start_time=T0)
    total = stats.total
    home = stats.get("/", "GET")  # asked for before any request: no row is created
    assert stats.snapshot(T0).rows == ()
    assert home.num_requests == 0
    stats.record("GET", "/", 5.0, 0, None)
    assert home.num_requests == total.num_requests == 1
    assert home.avg_response_time == 5.0


def test_empty_values_follow_locust() -> None:
    view = StatsCollector(start_time=T0).get("/", "GET")
    assert view.fail_ratio == 0.0
    assert view.avg_response_time == 0.0
    assert view.median_response_time == 0.0
    assert view.get_response_time_percentile(0.99) == 0.0
    assert view.max_response_time == 0.0
    assert view.min_response_time is None
    assert view.total_rps == view.current_rps == 0.0
    assert view.avg_content_length == 0.0
    assert view.num_none_requests == 0
    assert view.snapshot() is None


def test_entries_and_errors() -> None:
    stats = StatsCollector(start_time=T0)
    stats.record("GET", "/a", 1.0, 0, None)
    stats.record("POST", "/b", 1.0, 0, "nope")
    assert sorted(stats.entries) == [("/a", "GET"), ("/b", "POST")]
    assert stats.entries[("/b", "POST")].num_failures == 1
    (error,) = stats.errors.values()
    assert (error.method, error.name, error.error, error.occurrences) == ("POST", "/b", "nope", 1)
