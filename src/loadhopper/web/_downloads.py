"""The Download tab's files: Locust's four CSV files, the JSON summary, the HTML report.

Each is made on request from the controller's current snapshot (the last test's final one
once it has ended), with the same functions the CLI uses for `--csv`, `--json-file` and
`--html`, so a download and a file written at the end say the same thing.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from loadhopper._exceptions import LoadhopperError
from loadhopper.report import (
    LatencySpectrum,
    RunInfo,
    exceptions_csv_rows,
    failures_csv_rows,
    format_json,
    render_html_report,
    report_spectra,
    stats_csv_rows,
)
from loadhopper.stats import StatsSnapshot
from loadhopper.web._controller import WebController

__all__ = ["DOWNLOADS", "Download", "download_response"]


@dataclass(frozen=True, slots=True)
class Download:
    """One downloadable file.

    Attributes:
        slug: the last part of its URL, `/download/<slug>`.
        label: what the Download tab calls it.
        filename: the suggested file name (Locust's names for the CSV files).
    """

    slug: str
    label: str
    filename: str


DOWNLOADS = (
    Download("stats.csv", "Statistics (CSV)", "loadhopper_stats.csv"),
    Download("stats_history.csv", "Statistics history (CSV)", "loadhopper_stats_history.csv"),
    Download("failures.csv", "Failures (CSV)", "loadhopper_failures.csv"),
    Download("exceptions.csv", "Exceptions (CSV)", "loadhopper_exceptions.csv"),
    Download("summary.json", "Summary (JSON)", "loadhopper_summary.json"),
    Download("report.html", "Report (HTML)", "loadhopper_report.html"),
)
_BY_SLUG = {download.slug: download for download in DOWNLOADS}


def _csv(rows: Sequence[Sequence[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


async def _content(controller: WebController, slug: str) -> tuple[str, str] | Response:
    snapshot = controller.snapshot()
    if slug == "stats.csv":
        return _csv(stats_csv_rows(snapshot)), "text/csv"
    if slug == "stats_history.csv":
        return _csv(controller.history_csv_rows()), "text/csv"
    if slug == "failures.csv":
        return _csv(failures_csv_rows(snapshot)), "text/csv"
    if slug == "exceptions.csv":
        return _csv(exceptions_csv_rows(snapshot)), "text/csv"
    run = controller.run_info(snapshot.end_time)
    if run is None:
        return PlainTextResponse("No test has run yet; start one, then download its report.", 409)
    if slug == "summary.json":
        return format_json(snapshot, run), "application/json"
    try:
        # Rendering copies plotly.js (about 5 MB) into the page: off the loop, so that the
        # users' requests are not held up meanwhile. Snapshots are frozen, so this is safe.
        spectra = report_spectra(controller.environment.stats)  # on the loop: it reads the
        # live histograms, which the users' requests change
        page = await asyncio.to_thread(
            _render_html, snapshot, run, controller.locustfile_source, spectra
        )
    except LoadhopperError as exc:  # plotly is not installed
        return PlainTextResponse(f"The HTML report is not available: {exc}", 503)
    return page, "text/html"


def _render_html(
    snapshot: StatsSnapshot,
    run: RunInfo,
    source: str | None,
    spectra: tuple[LatencySpectrum, ...],
) -> str:
    return render_html_report(snapshot, run, locustfile_source=source, spectra=spectra)


async def download_response(request: Request) -> Response:
    """`GET /download/{slug}`: the file, as an attachment with its suggested name."""
    slug = request.path_params["slug"]
    download = _BY_SLUG.get(slug)
    if download is None:
        return PlainTextResponse(f"There is no download named {slug!r}.", 404)
    content = await _content(request.app.state.controller, slug)
    if isinstance(content, Response):
        return content
    text, media_type = content
    stamp = time.strftime("%Y%m%d-%H%M%S")
    stem, _, extension = download.filename.rpartition(".")
    return Response(
        text,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{stem}_{stamp}.{extension}"'},
    )
