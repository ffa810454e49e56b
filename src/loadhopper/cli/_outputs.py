"""The files and streams a run writes: console tables, CSV files, the JSON summary."""

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
        if self.options.json:
            sys.stdout.write(format_json(snapshot, run))
            sys.stdout.flush()
        return ok
