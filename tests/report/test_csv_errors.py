"""The CSV history survives real write errors: every row once, in order, whole.

The errors are real, caused in a child process so that nothing else is affected:

- EMFILE (too many open files, the error a load test meets first): the child lowers its
  own RLIMIT_NOFILE and opens /dev/null until the limit is reached. This works as root,
  where a read-only folder would not stop anything (root ignores file permissions).
- EFBIG after a partial write (what a full disk does mid-write): the child lowers its
  RLIMIT_FSIZE to a size in the middle of a row, so the kernel writes part of the row and
  then refuses the rest; no mount or privilege is needed.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from test_csv import HISTORY_COLUMNS

HERE = Path(__file__).resolve().parent
TIMEOUT = 60  # a hung child fails the test instead of hanging the suite

_PRELUDE = """
import csv, errno, io, json, os, resource, signal, sys
sys.path.insert(0, sys.argv[2])
from report_snapshots import make_snapshot
from loadhopper.report import CsvReport, history_csv_rows
from loadhopper.stats import DEFAULT_PERCENTILES

snapshot = make_snapshot()  # two rows and the Aggregated row: three rows per window
buffer = io.StringIO()
rows = history_csv_rows(snapshot, 1, full_history=True)
csv.writer(buffer, lineterminator=chr(10)).writerows(rows)
window_bytes = len(buffer.getvalue().encode())  # the same for windows 1 to 9
# sys.argv[3]: how many windows may wait in memory for the disk.
report = CsvReport(
    sys.argv[1], DEFAULT_PERCENTILES, full_history=True,
    max_pending_bytes=int(sys.argv[3]) * window_bytes,
)
report.start()
outcomes = []

def window(number):
    # The user count column carries the window's number, to check the order afterwards.
    try:
        report.append_history(snapshot, number)
    except OSError as exc:
        outcome = errno.errorcode[exc.errno]
    else:
        outcome = "ok"
    outcomes.append([number, outcome, report.pending_history_rows, report.dropped_history_rows])
"""

EMFILE_SCRIPT = (
    _PRELUDE
    + """
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
held = []
for number in (1, 2, 3):
    window(number)
resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
while True:
    try:
        held.append(os.open(os.devnull, os.O_RDONLY))
    except OSError as exc:
        assert exc.errno == errno.EMFILE, exc
        break
for number in (4, 5, 6):
    window(number)
for fd in held:
    os.close(fd)
resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
window(7)
print(json.dumps(outcomes))
"""
)

PARTIAL_WRITE_SCRIPT = (
    _PRELUDE
    + """
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
for number in (1, 2):
    window(number)
good = os.path.getsize(report.history_path)
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (good + 50, hard))  # 50 bytes into the next row
window(3)
on_disk = os.path.getsize(report.history_path)
window(4)
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
window(5)
print(json.dumps({"outcomes": outcomes, "good": good, "on_disk": on_disk}))
"""
)


def _run(script: str, prefix: Path, *, windows_kept: int = 100) -> object:
    result = subprocess.run(
        [sys.executable, "-c", script, str(prefix), str(HERE), str(windows_kept)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _history(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _assert_windows_once_in_order(path: Path, windows: list[int]) -> None:
    rows = _history(path)
    assert rows[0] == HISTORY_COLUMNS
    assert all(len(row) == len(HISTORY_COLUMNS) for row in rows)  # no torn row
    seen = [(row[1], row[3]) for row in rows[1:]]  # (user count = window, name)
    names = ["/", "/[id]/update", "Aggregated"]
    assert seen == [(str(n), name) for n in windows for name in names]


def test_history_rows_wait_through_emfile_and_are_written_once(tmp_path: Path) -> None:
    outcomes = _run(EMFILE_SCRIPT, tmp_path / "run")
    assert outcomes == [
        [1, "ok", 0, 0],
        [2, "ok", 0, 0],
        [3, "ok", 0, 0],
        [4, "EMFILE", 3, 0],  # the rows wait in memory ...
        [5, "EMFILE", 6, 0],
        [6, "EMFILE", 9, 0],
        [7, "ok", 0, 0],  # ... and the next write that works writes them all, first
    ]
    _assert_windows_once_in_order(tmp_path / "run_stats_history.csv", [1, 2, 3, 4, 5, 6, 7])


def test_waiting_rows_are_bounded_and_the_oldest_are_dropped(tmp_path: Path) -> None:
    outcomes = _run(EMFILE_SCRIPT, tmp_path / "run", windows_kept=2)
    assert outcomes == [
        [1, "ok", 0, 0],
        [2, "ok", 0, 0],
        [3, "ok", 0, 0],
        [4, "EMFILE", 3, 0],
        [5, "EMFILE", 6, 0],
        [6, "EMFILE", 6, 3],  # window 4 gave way to window 6
        [7, "ok", 0, 3],
    ]
    _assert_windows_once_in_order(tmp_path / "run_stats_history.csv", [1, 2, 3, 5, 6, 7])


def test_a_write_that_failed_halfway_is_cut_off_before_the_retry(tmp_path: Path) -> None:
    result = _run(PARTIAL_WRITE_SCRIPT, tmp_path / "run")
    assert isinstance(result, dict)
    assert result["outcomes"] == [
        [1, "ok", 0, 0],
        [2, "ok", 0, 0],
        [3, "EFBIG", 3, 0],
        [4, "EFBIG", 6, 0],
        [5, "ok", 0, 0],
    ]
    assert result["on_disk"] == result["good"] + 50  # part of a row really was on disk
    _assert_windows_once_in_order(tmp_path / "run_stats_history.csv", [1, 2, 3, 4, 5])
