"""The files and streams a run writes: console tables, CSV files, the JSON summary, HTML."""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path
from typing import TextIO

from loadhopper._exceptions import ConfigError
from loadhopper.cli._options import Options
from loadhopper.report import (
    CsvReport,
    RateKind,
    RunInfo,
    format_json,
    format_stats_table,
    format_summary,
    write_html_report,
)
from loadhopper.stats import StatsSnapshot, TimelinePoint

__all__ = ["Outputs"]

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
    """

    def __init__(self, options: Options, percentiles: tuple[float, ...]) -> None:
        """Prepare the outputs; nothing is written until `start()`."""
        self.options = options
        self.console: TextIO = sys.stderr if options.json else sys.stdout
        self.csv = (
            CsvReport(
                options.csv_prefix,
                percentiles,
                full_history=options.stats_history_enabled,
            )
            if options.csv_prefix
            else None
        )
        self.json_path = Path(f"{options.json_file}.json") if options.json_file else None
        self.html_path = _html_path(options) if options.html_file else None
        self._csv_failed = False

    def start(self) -> None:
        """Create the CSV files and check the JSON file's folder, before the test starts.

        Raises:
            ConfigError: an output cannot be written there.
        """
        if self.json_path is not None and not self.json_path.parent.is_dir():
            raise ConfigError(
                f"Cannot write {self.json_path}: the folder {self.json_path.parent} does "
                "not exist; create it or change --json-file."
            )
        if self.html_path is not None and not self.html_path.parent.is_dir():
            raise ConfigError(
                f"Cannot write {self.html_path}: the folder {self.html_path.parent} does "
                "not exist; create it or change --html."
            )
        if self.csv is not None:
            try:
                self.csv.start()
            except OSError as exc:
                raise ConfigError(
                    f"Cannot write {self.csv.stats_path}: {exc.strerror}; check --csv."
                ) from None

    def on_window(self, snapshot: StatsSnapshot, point: TimelinePoint) -> None:
        """Append the history rows of a closed window and refresh the CSV files."""
        if self.csv is None or self._csv_failed:
            return
        try:
            self.csv.append_history(snapshot, point.user_count)
            self.csv.write(snapshot)
        except OSError as exc:
            # Keep the test running; the final write will try again and report.
            self._csv_failed = True
            logger.error("Writing the CSV files failed (%s); they will be retried at the end.", exc)

    def print_periodic(self, snapshot: StatsSnapshot) -> None:
        """Print the periodic table (current rates), unless `--only-summary`."""
        if self.options.only_summary:
            return
        table = format_stats_table(snapshot, rates=RateKind.CURRENT, max_name_width=_name_width())
        print(table + "\n", file=self.console, flush=True)

    def finish(self, snapshot: StatsSnapshot, run: RunInfo) -> bool:
        """Print the summary and write every requested file.

        Returns:
            True if everything was written; False if a file could not be (logged).
        """
        print(format_summary(snapshot, max_name_width=_name_width()), file=self.console, flush=True)
        ok = True
        if self.csv is not None:
            try:
                self.csv.write(snapshot)
            except OSError as exc:
                logger.error("Could not write the CSV files: %s", exc)
                ok = False
        if self.json_path is not None:
            try:
                self.json_path.write_text(format_json(snapshot, run), encoding="utf-8")
            except OSError as exc:
                logger.error("Could not write %s: %s", self.json_path, exc)
                ok = False
        if self.html_path is not None:
            try:
                write_html_report(
                    self.html_path,
                    snapshot,
                    run,
                    locustfile_source=_locustfile_source(self.options.locustfile),
                )
            except OSError as exc:
                logger.error("Could not write %s: %s", self.html_path, exc)
                ok = False
        if self.options.json:
            sys.stdout.write(format_json(snapshot, run))
            sys.stdout.flush()
        return ok


def _html_path(options: Options) -> Path:
    """`--html` with Locust's placeholders: {u} users, {r} spawn rate, {t} run time."""
    template = options.html_file or ""
    run_time = "" if options.run_time is None else f"{options.run_time:g}"
    spawn_rate = "" if options.spawn_rate is None else f"{options.spawn_rate:g}"
    users = "" if options.num_users is None else str(options.num_users)
    return Path(template.replace("{u}", users).replace("{r}", spawn_rate).replace("{t}", run_time))


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
