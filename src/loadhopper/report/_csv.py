"""CSV output with Locust's file names and column names (`--csv PREFIX`).

Four files, as Locust writes them:

- `PREFIX_stats.csv`: one row per (method, name) and the Aggregated row; rewritten whole.
- `PREFIX_stats_history.csv`: appended once per closed window; the Aggregated row only, or
  every row first with `--csv-full-history`.
- `PREFIX_failures.csv` and `PREFIX_exceptions.csv`: rewritten whole.

Values, and where they differ from Locust's:

- Latencies are milliseconds. Percentiles and the median are written to 3 significant
  digits (what the histograms guarantee); min, max and average are exact, to the microsecond.
- A latency with no successful sample is `N/A` in every latency column. Locust writes `N/A`
  only in the percentile columns and 0 elsewhere, which reads as a real 0 ms.
- `Requests/s` in `_stats.csv` is the whole-run average, as in Locust. In the history file it
  is the current rate (the last 10 one-second windows), as in Locust.
- The history file's percentile columns are always cumulative from the start of the run (or
  the last reset) to that row's time. Locust switches them to 10-second window values when
  `--csv-full-history` is given (issues #1198, #1873, #2377); a column should not change
  meaning with a flag, so loadhopper keeps the default meaning in both cases.
- Rewritten files are replaced atomically (write, then rename), so a reader never sees a
  half-written file.
- A failed write loses nothing: history rows wait in memory until a write succeeds (see
  `CsvReport`), and the whole-run files are rewritten whole from the next snapshot.
"""

from __future__ import annotations

import collections
import csv
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from loadhopper.report._files import replace_file
from loadhopper.report._format import format_ms, percentile_label
from loadhopper.stats import RowSnapshot, StatsSnapshot

__all__ = [
    "MAX_PENDING_HISTORY_BYTES",
    "CsvReport",
    "exceptions_csv_rows",
    "failures_csv_rows",
    "history_csv_header",
    "history_csv_rows",
    "stats_csv_header",
    "stats_csv_rows",
]

_NA = "N/A"
# History rows kept in memory while the file cannot be written. A window's rows take about
# 200 bytes (Aggregated only: some 90 hours of windows) to 100 KB (--csv-full-history with
# 500 rows: some 10 minutes); beyond it the oldest waiting rows are dropped.
MAX_PENDING_HISTORY_BYTES = 64 * 1024 * 1024
_FAILURES_HEADER = ["Method", "Name", "Error", "Occurrences", "First Seen", "Last Seen"]
_EXCEPTIONS_HEADER = ["Count", "Message", "Traceback", "Nodes"]
# Locust lists the worker ids an exception came from; a local run has one node.
_LOCAL_NODE = "local"


def _exact(value: float | None) -> str:
    return _NA if value is None else f"{value:.3f}"


def _approx(value: float | None) -> str:
    return format_ms(value, missing=_NA)


def _rate(value: float) -> str:
    return f"{value:.3f}"


def _utc(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _percentiles(row: RowSnapshot) -> list[str]:
    return [_approx(value) for value in row.percentiles]


def stats_csv_header(percentiles: Sequence[float]) -> list[str]:
    """The header of `_stats.csv`, with Locust's column names."""
    return [
        "Type",
        "Name",
        "Request Count",
        "Failure Count",
        "Median Response Time",
        "Average Response Time",
        "Min Response Time",
        "Max Response Time",
        "Average Content Size",
        "Requests/s",
        "Failures/s",
        *(percentile_label(p) for p in percentiles),
    ]


def stats_csv_rows(snapshot: StatsSnapshot) -> list[list[str]]:
    """The rows of `_stats.csv`, header first, then every row and the Aggregated row."""
    rows = [stats_csv_header(snapshot.percentiles)]
    for row in (*snapshot.rows, snapshot.total):
        rows.append(
            [
                row.method,
                row.name,
                str(row.num_requests),
                str(row.num_failures),
                _approx(row.median_response_time),
                _exact(row.avg_response_time),
                _exact(row.min_response_time),
                _exact(row.max_response_time),
                f"{row.avg_content_length:.2f}",
                _rate(row.total_rps),
                _rate(row.total_fail_per_sec),
                *_percentiles(row),
            ]
        )
    return rows


def history_csv_header(percentiles: Sequence[float]) -> list[str]:
    """The header of `_stats_history.csv`, with Locust's column names."""
    return [
        "Timestamp",
        "User Count",
        "Type",
        "Name",
        "Requests/s",
        "Failures/s",
        *(percentile_label(p) for p in percentiles),
        "Total Request Count",
        "Total Failure Count",
        "Total Median Response Time",
        "Total Average Response Time",
        "Total Min Response Time",
        "Total Max Response Time",
        "Total Average Content Size",
    ]


def history_csv_rows(
    snapshot: StatsSnapshot, user_count: int, *, full_history: bool
) -> list[list[str]]:
    """The rows one window appends to `_stats_history.csv` (no header).

    Args:
        snapshot: the stats at the end of the window; its `end_time` is the row's timestamp.
        user_count: the number of running users at that time.
        full_history: also write one row per (method, name) before the Aggregated row.
    """
    chosen = (*snapshot.rows, snapshot.total) if full_history else (snapshot.total,)
    timestamp = str(int(snapshot.end_time))
    return [
        [
            timestamp,
            str(user_count),
            row.method,
            row.name,
            _rate(row.current_rps),
            _rate(row.current_fail_per_sec),
            *_percentiles(row),
            str(row.num_requests),
            str(row.num_failures),
            _approx(row.median_response_time),
            _exact(row.avg_response_time),
            _exact(row.min_response_time),
            _exact(row.max_response_time),
            f"{row.avg_content_length:.2f}",
        ]
        for row in chosen
    ]


def failures_csv_rows(snapshot: StatsSnapshot) -> list[list[str]]:
    """The rows of `_failures.csv`, header first; seen times in UTC, ISO 8601, as Locust."""
    rows = [list(_FAILURES_HEADER)]
    rows.extend(
        [f.method, f.name, f.error, str(f.occurrences), _utc(f.first_seen), _utc(f.last_seen)]
        for f in snapshot.failures
    )
    return rows


def exceptions_csv_rows(snapshot: StatsSnapshot) -> list[list[str]]:
    """The rows of `_exceptions.csv`, header first."""
    rows = [list(_EXCEPTIONS_HEADER)]
    rows.extend([str(e.count), e.message, e.traceback, _LOCAL_NODE] for e in snapshot.exceptions)
    return rows


def _encode(rows: Iterable[Sequence[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(rows)
    return buffer.getvalue()


class CsvReport:
    """The four CSV files of one run, under one prefix.

    Constructing it touches no file; `start()` creates them with their headers,
    `append_history()` adds one window, `write()` rewrites the whole-run files.

    The history survives write errors. Rows that could not be appended (too many open
    files, a full disk, an I/O error) wait in memory, and every later append (or
    `flush_history()`) writes all of them first, in order. The report knows how many bytes
    of the file are good, so a write that failed halfway is cut off before the retry: each
    row is in the file once, in order, whole. Waiting rows are bounded (`max_pending_bytes`);
    past the bound the oldest are dropped and counted in `dropped_history_rows`.
    """

    def __init__(
        self,
        prefix: str,
        percentiles: Sequence[float],
        *,
        full_history: bool = False,
        max_pending_bytes: int = MAX_PENDING_HISTORY_BYTES,
    ) -> None:
        """Prepare the report.

        Args:
            prefix: the path prefix, e.g. `results/run1` gives `results/run1_stats.csv`.
            percentiles: the percentile columns, as fractions (e.g. DEFAULT_PERCENTILES).
            full_history: write every row to the history file, not only the Aggregated one.
            max_pending_bytes: how much of the history may wait in memory for the disk.
        """
        self.stats_path = Path(f"{prefix}_stats.csv")
        self.history_path = Path(f"{prefix}_stats_history.csv")
        self.failures_path = Path(f"{prefix}_failures.csv")
        self.exceptions_path = Path(f"{prefix}_exceptions.csv")
        self._percentiles = tuple(percentiles)
        self._full_history = full_history
        self._history_size = 0  # bytes of the history file known to be written whole
        self._pending: collections.deque[tuple[bytes, int]] = collections.deque()
        self._pending_bytes = 0
        self._max_pending_bytes = max_pending_bytes
        self.dropped_history_rows = 0

    @property
    def pending_history_rows(self) -> int:
        """History rows waiting in memory for a write that succeeds."""
        return sum(rows for _, rows in self._pending)

    def start(self) -> None:
        """Create the four files, each with its header only (truncating old ones).

        Raises:
            OSError: a file could not be created.
        """
        header = _encode([history_csv_header(self._percentiles)])
        replace_file(self.history_path, header)
        self._history_size = len(header.encode("utf-8"))
        for path, text in self._empty_files():
            replace_file(path, text)

    def append_history(self, snapshot: StatsSnapshot, user_count: int) -> None:
        """Append one window's rows to the history file, after any rows still waiting.

        Raises:
            OSError: the file could not be written; the rows wait for the next append or
                `flush_history()`.
        """
        rows = history_csv_rows(snapshot, user_count, full_history=self._full_history)
        data = _encode(rows).encode("utf-8")
        self._pending.append((data, len(rows)))
        self._pending_bytes += len(data)
        try:
            self.flush_history()
        except OSError:
            # Only rows that still cannot be written count against the bound.
            while self._pending_bytes > self._max_pending_bytes and len(self._pending) > 1:
                dropped, count = self._pending.popleft()
                self._pending_bytes -= len(dropped)
                self.dropped_history_rows += count
            raise

    def flush_history(self) -> None:
        """Write the history rows still waiting, if any.

        Raises:
            OSError: the file could not be written; the rows keep waiting.
        """
        if not self._pending:
            return
        data = b"".join(chunk for chunk, _ in self._pending)
        # Unbuffered, so that nothing is left in a buffer to be flushed (or to fail) later.
        with self.history_path.open("r+b", buffering=0) as handle:
            # Cut off what a failed write left behind, so no row is ever written twice.
            handle.truncate(self._history_size)
            handle.seek(self._history_size)
            view = memoryview(data)
            while view:
                view = view[handle.write(view) :]
        self._history_size += len(data)
        self._pending.clear()
        self._pending_bytes = 0

    def rewrites(self, snapshot: StatsSnapshot) -> tuple[tuple[Path, str], ...]:
        """The whole-run files (stats, failures, exceptions) and their new contents."""
        return (
            (self.stats_path, _encode(stats_csv_rows(snapshot))),
            (self.failures_path, _encode(failures_csv_rows(snapshot))),
            (self.exceptions_path, _encode(exceptions_csv_rows(snapshot))),
        )

    def write(self, snapshot: StatsSnapshot) -> None:
        """Rewrite the stats, failures and exceptions files from `snapshot`.

        Raises:
            OSError: a file could not be written (the files after it were not tried).
        """
        for path, text in self.rewrites(snapshot):
            replace_file(path, text)

    def _empty_files(self) -> tuple[tuple[Path, str], ...]:
        return (
            (self.stats_path, _encode([stats_csv_header(self._percentiles)])),
            (self.failures_path, _encode([_FAILURES_HEADER])),
            (self.exceptions_path, _encode([_EXCEPTIONS_HEADER])),
        )
