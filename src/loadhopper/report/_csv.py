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

Columns of loadhopper's own, only ever appended after Locust's (so that a parser that reads
Locust's columns by position still works) and only when there is something to put in them:

- `_stats.csv`, when a row has samples with an intended start (an arrival rate, or
  `constant_pacing` / `constant_throughput` users): the latency corrected for coordinated
  omission, from that intended start (`Corrected Request Count`, `Corrected Median Response
  Time`, `Corrected Average Response Time`, `Corrected Max Response Time`, `Corrected 50%`,
  ...). A row without such samples has 0 and `N/A` there.
- `_stats_history.csv`, under an open model or pacing: the iterations due, started late and
  dropped per second (over the last 10 windows, like `Requests/s`) and in total (on the
  Aggregated row only; iterations are not per request name), then the cumulative corrected
  percentiles, like the uncorrected ones. The header is written before the test, so whether
  these columns exist is decided once: from the start when the caller says the run has an
  arrival rate (`CsvReport(open_model=True)`), else at the first history row, from what it
  holds; the header is then rewritten before that row so that the header and rows agree.
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
from loadhopper.report._open_model import any_corrected, recent_arrivals, recent_seconds
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


def _corrected_header(percentiles: Sequence[float]) -> list[str]:
    return [f"Corrected {percentile_label(p)}" for p in percentiles]


def _corrected_percentiles(row: RowSnapshot, count: int) -> list[str]:
    if not row.corrected_count:
        return [_NA] * count
    return [_approx(value) for value in row.corrected_percentiles]


def stats_csv_header(percentiles: Sequence[float], *, corrected: bool = False) -> list[str]:
    """The header of `_stats.csv`, with Locust's column names.

    Args:
        percentiles: the percentile columns, as fractions.
        corrected: append the columns of the latency corrected for coordinated omission.
    """
    extra = (
        [
            "Corrected Request Count",
            "Corrected Median Response Time",
            "Corrected Average Response Time",
            "Corrected Max Response Time",
            *_corrected_header(percentiles),
        ]
        if corrected
        else []
    )
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
        *extra,
    ]


def stats_csv_rows(snapshot: StatsSnapshot, *, corrected: bool = False) -> list[list[str]]:
    """The rows of `_stats.csv`, header first, then every row and the Aggregated row.

    Args:
        snapshot: the stats to write.
        corrected: write the corrected-latency columns even if no row has such samples
            yet (a run with an arrival rate keeps one set of columns from its start).
    """
    corrected = corrected or any_corrected(snapshot)
    count = len(snapshot.percentiles)
    rows = [stats_csv_header(snapshot.percentiles, corrected=corrected)]
    for row in (*snapshot.rows, snapshot.total):
        extra = (
            [
                str(row.corrected_count),
                _approx(row.corrected_median),
                _exact(row.corrected_avg),
                _exact(row.corrected_max),
                *_corrected_percentiles(row, count),
            ]
            if corrected
            else []
        )
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
                *extra,
            ]
        )
    return rows


_ARRIVAL_HEADER = [
    "Iterations Due/s",
    "Iterations Late/s",
    "Iterations Dropped/s",
    "Total Due",
    "Total Late",
    "Total Dropped",
]


def history_csv_header(percentiles: Sequence[float], *, open_model: bool = False) -> list[str]:
    """The header of `_stats_history.csv`, with Locust's column names.

    Args:
        percentiles: the percentile columns, as fractions.
        open_model: append the iteration counts and the corrected percentiles.
    """
    extra = [*_ARRIVAL_HEADER, *_corrected_header(percentiles)] if open_model else []
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
        *extra,
    ]


def _arrival_cells(snapshot: StatsSnapshot) -> list[str]:
    recent, seconds, total = recent_arrivals(snapshot), recent_seconds(snapshot), snapshot.arrivals
    return [
        _rate(recent.due / seconds),
        _rate(recent.late / seconds),
        _rate(recent.dropped / seconds),
        str(total.due),
        str(total.late),
        str(total.dropped),
    ]


def history_csv_rows(
    snapshot: StatsSnapshot, user_count: int, *, full_history: bool, open_model: bool = False
) -> list[list[str]]:
    """The rows one window appends to `_stats_history.csv` (no header).

    Args:
        snapshot: the stats at the end of the window; its `end_time` is the row's timestamp.
        user_count: the number of running users at that time.
        full_history: also write one row per (method, name) before the Aggregated row.
        open_model: append the iteration counts (Aggregated row only: they are not per
            name; empty on the others) and the corrected percentiles (every row).
    """
    chosen = (*snapshot.rows, snapshot.total) if full_history else (snapshot.total,)
    timestamp = str(int(snapshot.end_time))
    count = len(snapshot.percentiles)
    arrivals = _arrival_cells(snapshot) if open_model else []
    no_arrivals = [""] * len(arrivals)

    def extra(row: RowSnapshot) -> list[str]:
        if not open_model:
            return []
        counts = arrivals if row is snapshot.total else no_arrivals
        return [*counts, *_corrected_percentiles(row, count)]

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
            *extra(row),
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
        open_model: bool = False,
        max_pending_bytes: int = MAX_PENDING_HISTORY_BYTES,
    ) -> None:
        """Prepare the report.

        Args:
            prefix: the path prefix, e.g. `results/run1` gives `results/run1_stats.csv`.
            percentiles: the percentile columns, as fractions (e.g. DEFAULT_PERCENTILES).
            full_history: write every row to the history file, not only the Aggregated one.
            open_model: the run has an arrival rate: write the open model's columns (see
                the module docstring) from the start. Without it they are written when the
                first history row shows iterations or corrected latencies.
            max_pending_bytes: how much of the history may wait in memory for the disk.
        """
        self.stats_path = Path(f"{prefix}_stats.csv")
        self.history_path = Path(f"{prefix}_stats_history.csv")
        self.failures_path = Path(f"{prefix}_failures.csv")
        self.exceptions_path = Path(f"{prefix}_exceptions.csv")
        self._percentiles = tuple(percentiles)
        self._full_history = full_history
        self._open_model = open_model
        # Whether the history has the open model's columns: None until the first row.
        self._history_columns: bool | None = True if open_model else None
        self._header_rewrite: bytes | None = None  # a header to write before the rows
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
        header = _encode([history_csv_header(self._percentiles, open_model=self._open_model)])
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
        if self._history_columns is None:
            self._decide_history_columns(snapshot)
        rows = history_csv_rows(
            snapshot,
            user_count,
            full_history=self._full_history,
            open_model=bool(self._history_columns),
        )
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

    def _decide_history_columns(self, snapshot: StatsSnapshot) -> None:
        # Pacing users (constant_pacing) have corrected latencies but no arrival rate, so
        # the caller cannot know before the test: the first row decides. Nothing follows
        # the header yet, so the header is replaced (by the next flush, which cuts the
        # file to `_history_size` first) and the file stays one table.
        self._history_columns = snapshot.arrivals.active or any_corrected(snapshot)
        if self._history_columns:
            header = _encode([history_csv_header(self._percentiles, open_model=True)])
            self._header_rewrite = header.encode("utf-8")
            self._history_size = 0

    def flush_history(self) -> None:
        """Write the history rows still waiting, if any.

        Raises:
            OSError: the file could not be written; the rows keep waiting.
        """
        if not self._pending and self._header_rewrite is None:
            return
        data = (self._header_rewrite or b"") + b"".join(chunk for chunk, _ in self._pending)
        # Unbuffered, so that nothing is left in a buffer to be flushed (or to fail) later.
        with self.history_path.open("r+b", buffering=0) as handle:
            # Cut off what a failed write left behind, so no row is ever written twice.
            handle.truncate(self._history_size)
            handle.seek(self._history_size)
            view = memoryview(data)
            while view:
                view = view[handle.write(view) :]
        self._history_size += len(data)
        self._header_rewrite = None
        self._pending.clear()
        self._pending_bytes = 0

    def rewrites(self, snapshot: StatsSnapshot) -> tuple[tuple[Path, str], ...]:
        """The whole-run files (stats, failures, exceptions) and their new contents."""
        return (
            (self.stats_path, _encode(stats_csv_rows(snapshot, corrected=self._open_model))),
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
            (
                self.stats_path,
                _encode([stats_csv_header(self._percentiles, corrected=self._open_model)]),
            ),
            (self.failures_path, _encode([_FAILURES_HEADER])),
            (self.exceptions_path, _encode([_EXCEPTIONS_HEADER])),
        )
