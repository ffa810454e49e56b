"""`--otel` end to end: a real headless run exporting to a loopback OTLP/HTTP receiver.

The receiver is written here: an HTTP server on 127.0.0.1 that accepts POST /v1/metrics
and decodes each body with the OTLP protobuf message. Every run is bounded by `-t` and a
timeout on the subprocess (`run_cli`).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from test_main_e2e import FAILING, SIMPLE, TIMEOUT, run_cli, write

LOCUSTFILE = SIMPLE + FAILING.replace("from locust import HttpUser, task, constant\n", "")


@dataclass
class Received:
    requests: list[ExportMetricsServiceRequest] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[tuple[str, Received]]:
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            message = ExportMetricsServiceRequest()
            message.ParseFromString(body)
            received.requests.append(message)
            received.headers.append({k.lower(): v for k, v in self.headers.items()})
            received.paths.append(self.path)
            reply = ExportMetricsServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _metrics(message: ExportMetricsServiceRequest) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for resource_metrics in message.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                found[metric.name] = metric
    return found


def _attributes(point: Any) -> tuple[str, str]:
    values = {a.key: a.value.string_value for a in point.attributes}
    return values["method"], values["name"]


def _ints(metric: Any) -> dict[tuple[str, str], int]:
    return {_attributes(p): p.as_int for p in metric.sum.data_points}


# In a --processes run the master exports the merged statistics, the workers nothing.
@pytest.mark.parametrize(
    "mode",
    [
        ["--headless"],
        ["--headless", "--processes", "2"],
        ["--autostart", "--autoquit", "0", "-P", "0"],
    ],
    ids=["local", "processes", "web"],
)
def test_the_final_export_equals_the_json_summary(
    tmp_path: Path, target: Any, receiver: tuple[str, Received], mode: list[str]
) -> None:
    url, received = receiver
    write(tmp_path, "locustfile.py", LOCUSTFILE)
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": url,
        "OTEL_EXPORTER_OTLP_HEADERS": "x-team=nightly,authorization=Bearer%20t0ken",
        "OTEL_SERVICE_NAME": "checkout-load",
        "OTEL_METRIC_EXPORT_INTERVAL": "500",
    }
    result = run_cli(
        tmp_path, *mode, "-u", "4", "-r", "100", "-t", "2", "-H", target.url,
        "--only-summary", "--json-file", "out", "--otel", env=env,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr  # the /fail requests fail
    assert received.requests, result.stderr
    assert set(received.paths) == {"/v1/metrics"}
    assert received.headers[-1]["x-team"] == "nightly"
    assert received.headers[-1]["authorization"] == "Bearer t0ken"
    assert received.headers[-1]["content-type"] == "application/x-protobuf"
    last = received.requests[-1]
    resource = {a.key: a.value.string_value for a in last.resource_metrics[0].resource.attributes}
    assert resource["service.name"] == "checkout-load"

    summary = json.loads((tmp_path / "out.json").read_text())
    rows = {(r["method"], r["name"]): r for r in summary["rows"]}
    assert set(rows) == {("GET", "/"), ("GET", "/fail")}
    metrics = _metrics(last)
    requests = _ints(metrics["loadhopper.requests"])
    assert requests == {key: row["num_requests"] for key, row in rows.items()}
    failures = _ints(metrics["loadhopper.request_failures"])
    assert failures == {key: row["num_failures"] for key, row in rows.items()}
    assert failures[("GET", "/fail")] > 0
    assert metrics["loadhopper.requests"].sum.is_monotonic
    assert metrics["loadhopper.requests"].unit == "{request}"

    duration = metrics["loadhopper.request_duration"]
    assert duration.unit == "s"
    points = {_attributes(p): p for p in duration.histogram.data_points}
    ok = points[("GET", "/")]
    assert ok.count == rows[("GET", "/")]["num_requests"]
    assert sum(ok.bucket_counts) == ok.count
    assert len(ok.bucket_counts) == len(ok.explicit_bounds) + 1
    assert ok.max == pytest.approx(rows[("GET", "/")]["max_response_time"] / 1000, rel=1e-6)
    assert ok.sum == pytest.approx(
        ok.count * rows[("GET", "/")]["avg_response_time"] / 1000, rel=1e-6
    )
    users = {
        p.attributes[0].value.string_value: p.as_int
        for p in metrics["loadhopper.users"].gauge.data_points
    }
    assert users == {"Simple": 0, "Failing": 0}  # the test is over
    assert "loadhopper.current_requests" in metrics
    assert "loadhopper.iterations_due" not in metrics  # a closed model


def test_otel_without_the_extra_is_a_usage_error(tmp_path: Path, target: Any) -> None:
    write(tmp_path, "locustfile.py", SIMPLE)
    # The SDK made unimportable in the child, as on a machine without the `otel` extra.
    code = (
        "import sys; sys.modules['opentelemetry.sdk'] = None; "
        "from loadhopper.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCUST_", "LOADHOPPER_"))}
    result = subprocess.run(
        [sys.executable, "-c", code, "--headless", "-u", "1", "-t", "5", "-H", target.url,
         "--otel"],
        cwd=tmp_path, env={**env, "HOME": str(tmp_path)}, capture_output=True, text=True,
        timeout=TIMEOUT, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if "--otel" in line]
    assert lines == [
        "loadhopper: --otel needs the OpenTelemetry SDK, which is not installed: "
        "run `pip install 'loadhopper[otel]'`."
    ]
    assert "Aggregated" not in result.stdout  # no test ran
