"""The files and streams a run writes: console tables, CSV files, the JSON summary, HTML."""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from loadhopper._exceptions import ConfigError, LoadhopperError
from loadhopper.cli._compare import Baseline, load_baseline
from loadhopper.cli._options import Options
from loadhopper.cli._retry import TRANSIENT_ERRNOS, Retry, reason_of
from loadhopper.distributed import WorkerInfo
from loadhopper.report import (
    MAX_PENDING_HISTORY_BYTES,
    CsvReport,
    LatencySpectrum,
    RateKind,
    RunInfo,
    format_json,
    format_stats_table,
    format_summary,
    render_html_report,
    render_junit,
    replace_file,
    summary_dict,
)
from loadhopper.stats import StatsSnapshot, TimelinePoint

__all__ = ["Outputs", "html_path", "json_path", "junit_path"]

logger = logging.getLogger(__name__)

# Columns of the stats table besides the name (see report/_console.py), so that the name
# column gets what is left of the terminal.
_FIXED_COLUMNS = 94
_MIN_NAME_WIDTH = 20


def _name_width() -> int:
    # Not a terminal (a pipe, a CI log): assume a wide one rather than 80 columns.
    columns = shutil.get_terminal_size((160, 24)).columns
    return max(_MIN_NAME_WIDTH, columns - _FIXED_COLUMNS)


class Outputs:
    """Every output one run asked for.

    The console tables go to stdout, or to stderr when `--json` puts the JSON summary on
    stdout (so that stdout stays one JSON document).

    Write errors never stop the test. While it runs, a CSV write that fails is tried again
    at the next window, with every history row still waiting (see `CsvReport`); the log
    says when writing fails and when it works again. At the end every file is written
    whole, each tried a few times when the error may pass (`Retry`); a file that still
    cannot be written is one error line naming it, and the others are written anyway.
    """

    def __init__(
        self, options: Options, percentiles: tuple[float, ...], *, retry: Retry | None = None
    ) -> None:
        """Prepare the outputs; nothing is written until `start()`.

        Args:
            options: the run's options (`--csv`, `--json-file`, `--html`, ...).
            percentiles: the percentile columns of the CSV files.
            retry: how the final writes are tried again (default: `Retry()`).
        """
        self.options = options
        self.console: TextIO = sys.stderr if options.json else sys.stdout
        self.csv = (
            CsvReport(
                options.csv_prefix,
                percentiles,
                full_history=options.stats_history_enabled,
                # An arrival rate known before the test gives the open model's CSV columns
                # from the start; a locustfile's own rate shape or pacing users are seen
                # at the first history row instead (see report/_csv.py).
                open_model=options.arrival_rate is not None or bool(options.arrival_stages),
            )
            if options.csv_prefix
            else None
        )
        self.json_path = json_path(options)
        self.html_path = html_path(options)
        self.junit_path = junit_path(options)
        # A distributed run's workers (`MasterRunner.workers`), for the JSON summary.
        self.workers: list[WorkerInfo] | None = None
        self._retry = Retry() if retry is None else retry
        self._csv_error: str | None = None  # the last window's CSV error, until one succeeds
        self._dropped_logged = False
        self.baseline: Baseline | None = None  # `--baseline`, loaded by start()
        self.regressed = False  # a `--fail-on` condition held (set by finish())
        # The latency spectra for the HTML report's distribution chart: they need the live
        # collector's histograms, so the caller sets them before `finish`.
        self.spectra: tuple[LatencySpectrum, ...] = ()

    def start(self) -> None:
        """Create the CSV files with their headers, before the test starts.

        Raises:
            ConfigError: a CSV file cannot be written there, or `--baseline` is not a
                JSON summary.
        """
        self.baseline = load_baseline(self.options)
        if self.csv is None:
            return
        csv = self.csv
        error = self._retry.write(csv.stats_path, csv.start)
        if error is not None:
            raise ConfigError(
                f"Cannot write the CSV files {csv.stats_path.name} and the others in "
                f"{csv.stats_path.parent}: {reason_of(error)}; check --csv."
            )

    def on_window(self, snapshot: StatsSnapshot, point: TimelinePoint) -> None:
        """Append the history rows of a closed window and refresh the CSV files.

        Called on the event loop once a second: it tries once and never waits; what fails
        is tried again at the next window and at the end.
        """
        if self.csv is None:
            return
        failed: tuple[Path, OSError] | None = None
        try:
            self.csv.append_history(snapshot, point.user_count)
        except OSError as exc:
            failed = (self.csv.history_path, exc)
        for path, text in self.csv.rewrites(snapshot):
            try:
                replace_file(path, text)
            except OSError as exc:
                failed = failed or (path, exc)
                break  # the next ones would most likely fail the same way
        self._note_csv_result(self.csv, failed)

    def _note_csv_result(self, csv: CsvReport, failed: tuple[Path, OSError] | None) -> None:
        # One line when writing starts failing (or fails differently) and one when it works
        # again, rather than one a second for as long as the disk is full.
        if failed is not None:
            path, exc = failed
            error = f"{path}: {reason_of(exc)}"
            if error != self._csv_error:
                logger.error(
                    "Could not write %s (%s); the CSV files will be tried again each second "
                    "and at the end, and no history row is lost meanwhile.",
                    path,
                    reason_of(exc),
                )
            self._csv_error = error
        elif self._csv_error is not None:
            complete = "" if csv.dropped_history_rows else "; the history file is complete"
            logger.info("Writing the CSV files works again%s.", complete)
            self._csv_error = None
        if csv.dropped_history_rows and not self._dropped_logged:
            self._dropped_logged = True
            logger.error(
                "The CSV history has waited for the disk too long: its oldest unwritten rows "
                "are being dropped (%s MiB are kept in memory).",
                MAX_PENDING_HISTORY_BYTES // (1024 * 1024),
            )

    def print_periodic(self, snapshot: StatsSnapshot) -> None:
        """Print the periodic table (current rates), unless `--only-summary`."""
        if self.options.only_summary:
            return
        table = format_stats_table(snapshot, rates=RateKind.CURRENT, max_name_width=_name_width())
        print(table + "\n", file=self.console, flush=True)

    def finish(self, snapshot: StatsSnapshot, run: RunInfo) -> bool:
        """Print the summary and write every requested file, each whole.

        Every file is tried (a few times when the error may pass) even when an earlier one
        failed; each one that cannot be written is logged as one line naming it.

        Returns:
            True if everything was written; False if a file could not be (logged).
        """
        summary = format_summary(snapshot, max_name_width=_name_width(), run=run)
        print(summary, file=self.console, flush=True)
        if self.baseline is not None:
            self.regressed = self.baseline.report(
                summary_dict(snapshot, run, self.workers), self.console
            )
        ok = True
        for path, write in self._final_writes(snapshot, run):
            ok = self._write(path, write) and ok
        if self.csv is not None and self.csv.dropped_history_rows:
            logger.error(
                "%s is missing %d rows: they waited too long for the disk and were dropped.",
                self.csv.history_path,
                self.csv.dropped_history_rows,
            )
            ok = False
        if self.options.json:
            sys.stdout.write(self._json(snapshot, run))
            sys.stdout.flush()
        return ok

    def _json(self, snapshot: StatsSnapshot, run: RunInfo) -> str:
        return format_json(snapshot, run, self.workers)

    def _final_writes(
        self, snapshot: StatsSnapshot, run: RunInfo
    ) -> list[tuple[Path, Callable[[], None]]]:
        writes: list[tuple[Path, Callable[[], None]]] = []
        if self.csv is not None:
            writes.append((self.csv.history_path, self.csv.flush_history))
            writes += [(path, _replacer(path, text)) for path, text in self.csv.rewrites(snapshot)]
        if self.json_path is not None:
            writes.append((self.json_path, _replacer(self.json_path, self._json(snapshot, run))))
        if self.html_path is not None:
            writes.append((self.html_path, self._html_writer(self.html_path, snapshot, run)))
        if self.junit_path is not None:
            # Also after a failed or interrupted run: CI reads it to say what went wrong.
            text = render_junit(snapshot, run)
            writes.append((self.junit_path, _replacer(self.junit_path, text)))
        return writes

    def _html_writer(self, path: Path, snapshot: StatsSnapshot, run: RunInfo) -> Callable[[], None]:
        # Rendered once, not at every attempt: the page inlines some 5 MB of plotly.js.
        page: list[str] = []

        def write() -> None:
            if not page:
                source = _locustfile_source(self.options.locustfile)
                page.append(
                    render_html_report(
                        snapshot, run, locustfile_source=source, spectra=self.spectra
                    )
                )
            replace_file(path, page[0])

        return write

    def _write(self, path: Path, write: Callable[[], None]) -> bool:
        try:
            error = self._retry.write(path, write)
        except LoadhopperError as exc:  # the HTML report without the `plotly` package
            logger.error("Could not write %s: %s.", path, str(exc).rstrip("."))
            return False
        if error is None:
            return True
        tried = len(self._retry.delays) + 1 if error.errno in TRANSIENT_ERRNOS else 1
        logger.error(
            "Could not write %s: %s%s.",
            path,
            reason_of(error),
            f" (tried {tried} times)" if tried > 1 else "",
        )
        return False


def _replacer(path: Path, text: str) -> Callable[[], None]:
    return lambda: replace_file(path, text)


def json_path(options: Options) -> Path | None:
    """`--json-file BASE` as the file it writes, `BASE.json`."""
    return Path(f"{options.json_file}.json") if options.json_file else None


def junit_path(options: Options) -> Path | None:
    """`--junit FILE` as a path (None when not asked for)."""
    return Path(options.junit_file) if options.junit_file else None


def html_path(options: Options) -> Path | None:
    """`--html` with Locust's placeholders filled in: {u} users, {r} spawn rate, {t} run time."""
    if not options.html_file:
        return None
    run_time = "" if options.run_time is None else f"{options.run_time:g}"
    spawn_rate = "" if options.spawn_rate is None else f"{options.spawn_rate:g}"
    users = "" if options.num_users is None else str(options.num_users)
    name = options.html_file.replace("{u}", users).replace("{r}", spawn_rate)
    return Path(name.replace("{t}", run_time))


# The report embeds the locustfile so that a reader sees what produced the numbers; a
# directory or a comma list of files is shown file by file, each under its own header.
_MAX_SOURCE_FILES = 20


def _locustfile_source(spec: str) -> str | None:
    paths: list[Path] = []
    for part in spec.split(","):
        path = Path(part.strip())
        if path.is_dir():
            paths.extend(sorted(p for p in path.rglob("*.py") if not p.name.startswith("_")))
        elif path.is_file():
            paths.append(path)
        elif path.with_suffix(".py").is_file():
            paths.append(path.with_suffix(".py"))
    if not paths:
        return None
    if len(paths) == 1:
        return _read(paths[0])
    return "\n\n".join(f"# ==> {p} <==\n{_read(p)}" for p in paths[:_MAX_SOURCE_FILES])


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"# could not read {path}: {exc.strerror}"
