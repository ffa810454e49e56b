"""The controls and downloads over HTTP, driving real tests against a loopback target."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from web_support import Client, ui_server


def _start(client: Client, target: Any, **extra: Any) -> dict[str, Any]:
    form = {"users": 2, "spawn_rate": 100, "host": target.url, "user_classes": ["IndexUser"]}
    form.update(extra)
    reply = client.post("/api/start", form)
    assert reply.status == 200, reply.text
    answer: dict[str, Any] = reply.json()
    return answer


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_start_edit_stop_and_new_test(target: Any) -> None:
    with ui_server() as ui:
        client = Client(ui.port, token=ui.csrf_token)
        first = client.state()
        assert first["status"]["state"] == "ready" and first["status"]["tests_started"] == 0
        assert first["user_classes"] == ["IndexUser", "FailUser", "CrashUser"]
        answer = _start(client, target)
        assert answer["ok"] and answer["status"]["running"]
        client.wait_for(lambda s: s["status"]["user_count"] == 2, "2 users")
        client.wait_for(lambda s: s["stats"]["total"]["num_requests"] > 0, "requests")
        # A second start while running is refused, and changes nothing.
        again = client.post("/api/start", {"users": 9, "spawn_rate": 1})
        assert again.status == 409 and "already running" in again.json()["error"]
        edit = client.post("/api/edit", {"users": 5, "spawn_rate": 100})
        assert edit.status == 200 and edit.json()["status"]["target_users"] == 5
        client.wait_for(lambda s: s["status"]["user_count"] == 5, "5 users")
        assert client.post("/api/stop").status == 200
        stopped = client.wait_for(lambda s: not s["status"]["running"], "the stop")
        assert stopped["status"]["state"] == "stopped" and stopped["status"]["user_count"] == 0
        assert stopped["stats"]["rows"][0]["name"] == "/"
        assert client.post("/api/edit", {"users": 1, "spawn_rate": 1}).status == 409
        # A new test after the stop, with other classes: the stats start again.
        _start(client, target, users=1, user_classes=["FailUser"])
        second = client.wait_for(lambda s: s["stats"]["total"]["num_failures"] > 0, "failures")
        assert {row["name"] for row in second["stats"]["rows"]} == {"/fail"}
        assert second["status"]["tests_started"] == 2
        assert second["stats"]["failures"][0]["error"].startswith("HTTPError")
        client.post("/api/stop")
        client.wait_for(lambda s: not s["status"]["running"], "the second stop")


def test_start_refuses_a_bad_host_with_a_reason(target: Any) -> None:
    with ui_server() as ui:
        client = Client(ui.port, token=ui.csrf_token)
        reply = client.post("/api/start", {"users": 1, "spawn_rate": 1, "host": "file:///etc"})
        assert reply.status == 400
        assert reply.json()["error"].startswith("The host must start with http:// or https://")
        unknown = client.post("/api/start", {"users": 1, "spawn_rate": 1, "user_classes": ["X"]})
        assert unknown.status == 400 and "Unknown User class 'X'" in unknown.json()["error"]
        assert client.state()["status"]["tests_started"] == 0
        assert target.hits == 0


def test_run_time_ends_the_test(target: Any) -> None:
    with ui_server() as ui:
        client = Client(ui.port, token=ui.csrf_token)
        _start(client, target, run_time="0.3s")
        done = client.wait_for(
            lambda s: s["status"]["tests_started"] == 1 and not s["status"]["running"], "the end"
        )
        assert done["status"]["run_time"] == 0.3 and done["status"]["state"] == "stopped"


def test_reset_clears_the_statistics_but_not_the_chart_history(target: Any) -> None:
    with ui_server() as ui:
        client = Client(ui.port, token=ui.csrf_token)
        _start(client, target)
        client.wait_for(lambda s: len(s["points"]) >= 1, "a closed window")
        assert client.post("/api/reset").status == 200
        after = client.state()
        assert after["stats"]["total"]["num_requests"] < 50
        assert len(after["points"]) >= 1
        client.post("/api/stop")
        client.wait_for(lambda s: not s["status"]["running"], "the stop")


def test_downloads_before_and_after_a_test(target: Any) -> None:
    with ui_server() as ui:
        client = Client(ui.port, token=ui.csrf_token)
        assert client.get("/download/summary.json").status == 409
        assert client.get("/download/report.html").status == 409
        assert client.get("/download/nothing.txt").status == 404
        _start(client, target, user_classes=["IndexUser", "FailUser", "CrashUser"], users=3)
        client.wait_for(
            lambda s: len(s["points"]) >= 1 and s["stats"]["exceptions"],
            "a window and an exception",
        )
        client.post("/api/stop")
        client.wait_for(lambda s: not s["status"]["running"], "the stop")
        stats = client.get("/download/stats.csv")
        assert stats.headers["content-type"].startswith("text/csv")
        assert "attachment" in stats.headers["content-disposition"]
        rows = _rows(stats.text)
        assert [r["Name"] for r in rows] == ["/", "/fail", "Aggregated"]
        history = _rows(client.get("/download/stats_history.csv").text)
        assert history and history[0]["Name"] == "Aggregated"
        failures = _rows(client.get("/download/failures.csv").text)
        assert failures[0]["Name"] == "/fail"
        exceptions = _rows(client.get("/download/exceptions.csv").text)
        assert "ValueError: the locustfile has a bug" in exceptions[0]["Message"]
        summary = json.loads(client.get("/download/summary.json").body)
        assert summary["schema"] == "loadhopper.summary/1"
        assert summary["run"]["users"] == 3 and summary["run"]["host"] == target.url
        assert summary["aggregated"]["num_requests"] == int(rows[-1]["Request Count"])
        report = client.get("/download/report.html")
        assert report.status == 200 and report.headers["content-type"].startswith("text/html")
        assert b"/fail" in report.body and b"Plotly" in report.body
