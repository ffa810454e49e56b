"""The web UI's `GET /metrics`: a test started through the API, scraped like Prometheus does,
parsed with the client library's own parser; and the login in front of it."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from web_support import DEADLINE, Client, basic, ui_server

from loadhopper.web import WebLogin

PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
)


def _families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def _value(family: Any, sample_name: str, **labels: str) -> float:
    (value,) = [
        s.value
        for s in family.samples
        if s.name == sample_name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    return float(value)


def _scrape_until(client: Client, check: Any, what: str) -> dict[str, Any]:
    end = time.monotonic() + DEADLINE
    while True:
        reply = client.get("/metrics")
        assert reply.status == 200, reply.text
        assert reply.headers["content-type"].startswith("text/plain; version=")
        families = _families(reply.text)
        if check(families):
            return families
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_metrics_of_a_test_started_through_the_api(target: Any) -> None:
    with ui_server() as ui:
        client = Client(ui.port, token=ui.csrf_token)
        before = _families(client.get("/metrics").text)
        assert _value(before["loadhopper_runner_state"], "loadhopper_runner_state", state="ready")
        form = {"users": 2, "spawn_rate": 100, "host": target.url, "user_classes": ["IndexUser"]}
        assert client.post("/api/start", form).status == 200

        def ran(families: dict[str, Any]) -> bool:
            users = families["loadhopper_users"].samples
            requests = families["loadhopper_requests"].samples
            return sum(s.value for s in users) == 2 and any(s.value >= 5 for s in requests)

        families = _scrape_until(client, ran, "2 users and 5 requests")
        requests = families["loadhopper_requests"]
        count = _value(requests, "loadhopper_requests_total", method="GET", name="/")
        assert count >= 5
        assert _value(families["loadhopper_users"], "loadhopper_users", user_class="IndexUser") == 2
        assert _value(
            families["loadhopper_runner_state"], "loadhopper_runner_state", state="running"
        )
        duration = families["loadhopper_request_duration_seconds"]
        inf = _value(duration, "loadhopper_request_duration_seconds_bucket", name="/", le="+Inf")
        # The scrape reads one snapshot: the histogram's successes cannot exceed the requests.
        assert 0 < inf <= count
        assert client.post("/api/stop").status == 200
        client.wait_for(lambda s: not s["status"]["running"], "the stop")
        after = _families(client.get("/metrics").text)
        final = _value(after["loadhopper_requests"], "loadhopper_requests_total", name="/")
        assert final >= count  # counters never go back within a test
        assert _value(after["loadhopper_runner_state"], "loadhopper_runner_state", state="stopped")


def test_openmetrics_for_prometheus_own_accept_header() -> None:
    with ui_server() as ui:
        reply = Client(ui.port).get("/metrics", headers={"Accept": PROMETHEUS_ACCEPT})
        assert reply.status == 200
        assert reply.headers["content-type"].startswith("application/openmetrics-text")
        assert reply.text.rstrip().endswith("# EOF")


def test_metrics_need_the_web_login_like_every_route() -> None:
    login = WebLogin.parse("scraper:s3cret")
    with ui_server(login=login) as ui:
        assert Client(ui.port).get("/metrics").status == 401
        wrong = Client(ui.port, auth=basic("scraper", "nope")).get("/metrics")
        assert wrong.status == 401
        right = Client(ui.port, auth=basic("scraper", "s3cret")).get("/metrics")
        assert right.status == 200 and "loadhopper_requests" in right.text


def test_metrics_is_read_only() -> None:
    with ui_server() as ui:
        reply = Client(ui.port, token=ui.csrf_token).post("/metrics")
        assert reply.status == 405
