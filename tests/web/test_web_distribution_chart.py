"""The response-time distribution chart in Debian's headless Chromium, on a real run.

The page draws the percentile spectrum (`report/_spectrum.py`) of the Aggregated row and of
a chosen row on a log axis of 1/(1-q). The run is time-limited, so once it has ended the
histograms are fixed and the chart can be checked against the exact numbers the statistics
table shows. Screenshot: artifacts/web/distribution-01-chart.png.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser_support import shot
from cli_ui_support import TIMEOUT, cli_ui, open_page
from web_support import Client

from loadhopper.report._spectrum import spectrum_quantiles

LOCUSTFILE = """
from locust import HttpUser, constant, task


class Visitor(HttpUser):
    wait_time = constant(0.02)

    @task(3)
    def home(self):
        self.client.get("/", name="home")

    @task(1)
    def other(self):
        self.client.get("/", name="other")
"""


def sig3(value: float) -> float:
    """To 3 significant digits, the histograms' precision, as the chart's JSON carries it."""
    return float(f"{value:.3g}")


DRAWN = (
    "() => { const el = document.getElementById('chart-distribution');"
    " return {axis: el.layout.xaxis.type,"
    " traces: el.data.map((t) => ({name: t.name, x: t.x, y: t.y, text: t.text}))}; }"
)


@pytest.mark.browser
def test_the_distribution_tab_draws_the_exact_spectrum(
    tmp_path: Path, browser: Any, target: Any
) -> None:
    args = ("--autostart", "-u", "2", "-r", "10", "-t", "3s", "-H", target.url)
    with cli_ui(tmp_path, LOCUSTFILE, *args) as (url, port):
        client = Client(port)
        state = client.wait_for(lambda s: s["status"]["state"] == "stopped", "the run's end")
        total = state["stats"]["total"]
        context, page, problems = open_page(browser, url)
        page.click("button[data-tab=distribution]")
        page.wait_for_function(
            "() => Number(document.getElementById('chart-distribution').dataset.points) > 0",
            timeout=TIMEOUT * 1000,
        )
        drawn = page.evaluate(DRAWN)
        assert drawn["axis"] == "log"
        [aggregated] = drawn["traces"]
        assert aggregated["name"] == "Aggregated"
        successes = total["num_requests"] - total["num_failures"]
        assert len(aggregated["x"]) == len(spectrum_quantiles(successes))
        # The spectrum's points come from the same exact histogram as the table's columns.
        labels = aggregated["text"]
        assert aggregated["y"][labels.index("p50")] == sig3(total["median"])
        assert aggregated["y"][labels.index("max")] == sig3(total["max"])
        assert aggregated["y"][0] == sig3(total["min"])
        assert aggregated["x"][0] == 1 and aggregated["x"][-1] == successes
        assert aggregated["y"] == sorted(aggregated["y"])  # a spectrum never falls
        # Choosing a row adds its own line.
        page.select_option("#distribution-row", label="GET other")
        page.wait_for_function(
            "() => document.getElementById('chart-distribution').data.length === 2"
        )
        second = page.evaluate(DRAWN)["traces"][1]
        assert second["name"] == "GET other"
        other = next(r for r in state["stats"]["rows"] if r["name"] == "other")
        assert second["y"][second["text"].index("p50")] == sig3(other["median"])
        shot(page, "distribution-01-chart")
        assert problems.items == []
        context.close()
