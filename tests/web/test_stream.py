"""The event stream: a `hello` with everything, then `update`s with only the new points."""

from __future__ import annotations

from typing import Any

from web_support import Client, ui_server

from loadhopper.web._stream import format_event

STATUS_KEYS = {
    "running", "state", "user_count", "target_users", "spawn_rate", "host", "load_model",
    "run_time",
    "test_start", "tests_started", "error", "generation", "current_rps",
    "current_fail_per_sec", "fail_ratio",
}  # fmt: skip
STATS_KEYS = {
    "stats_start", "percentiles", "rows", "total", "overflowed", "failures",
    "failures_left_out", "exceptions", "exceptions_left_out", "health", "arrivals",
}  # fmt: skip
ROW_KEYS = {
    "method", "name", "num_requests", "num_failures", "median", "p95", "p99", "avg", "min",
    "max", "avg_size", "current_rps", "current_fail_per_sec", "total_rps", "percentiles",
    "corrected_count", "corrected_median", "corrected_p95", "corrected_p99", "corrected_avg",
    "corrected_max", "corrected_percentiles",
}  # fmt: skip


def test_format_event_is_one_sse_message() -> None:
    assert format_event("update", {"a": [1, None]}) == b'event: update\ndata: {"a":[1,null]}\n\n'


def test_hello_then_updates_with_new_points_only(target: Any) -> None:
    with ui_server() as ui:
        client = Client(ui.port, token=ui.csrf_token)
        with client.events() as events:
            name, hello = next(events)
            assert name == "hello"
            assert set(hello["status"]) == STATUS_KEYS and set(hello["stats"]) == STATS_KEYS
            assert hello["points"] == [] and hello["test_starts"] == []
            assert hello["point_fields"] == [
                "time", "users", "rps", "fail_per_sec", "p50", "p95", "p99", "avg", "stalled_ms",
                "due", "late", "dropped", "corrected_p95", "corrected_p99",
                "cpu_percent", "loop_lag_ms", "loop_lag_mean_ms",
            ]  # fmt: skip
            assert hello["defaults"] == {
                "users": 1,
                "spawn_rate": 1.0,
                "host": "",
                "run_time": None,
            }
            # Idle, the stream still ticks (state changes show without a window).
            name, idle = next(events)
            assert name == "update" and idle["points"] == []
            form = {
                "users": 2,
                "spawn_rate": 100,
                "host": target.url,
                "user_classes": ["IndexUser"],
            }
            assert client.post("/api/start", form).status == 200
            seen: list[list[Any]] = []
            for name, update in events:
                assert name == "update"
                assert set(update["status"]) == STATUS_KEYS
                seen.extend(update["points"])
                if len(seen) >= 2:
                    break
            assert len(update["test_starts"]) == 1
            times = [point[0] for point in seen]
            assert times == sorted(set(times)), "each point is sent once, in order"
            assert all(len(point) == len(hello["point_fields"]) for point in seen)
            assert seen[-1][1] == 2 and seen[-1][2] > 0  # users, rps
            row = update["stats"]["rows"][0]
            assert set(row) == ROW_KEYS and row["name"] == "/"
            assert len(row["percentiles"]) == len(update["stats"]["percentiles"])
            assert update["stats"]["percentiles"][0] == "50%"
        # A reopened tab gets the whole history at once.
        with client.events() as events:
            name, again = next(events)
        assert name == "hello" and [p[0] for p in again["points"]][: len(times)] == times
        client.post("/api/stop")
        client.wait_for(lambda s: not s["status"]["running"], "the stop")
