"""Case 3: realistic task code, requests per CPU-second (issue 12, item 4).

Case 1 measures `GET /` alone, the cheapest task there is. Case 3 runs the seed's locustfile as
the project ships it (src/loadhopper/demo/locustfile.py: a SequentialTaskSet of four routes,
two url-encoded form posts, `catch_response` with a check of the body, two redirects followed,
random names), with one change: `wait_time = between(2, 5)` becomes `constant(0)`, so that the
users run back to back and the run measures CPU per request instead of waiting. The target is
`_cats_stub.py`, which answers the site's routes at once with the site's codes and redirects.

loadhopper runs the file's HttpUser as written; Locust runs the same file (HttpUser, on
`requests`). Both get the same users, spawn rate and run time. The numbers:

- requests: the tool's own total (one per task call; a followed redirect is part of its
  request, as both tools count it), from its JSON summary;
- target saw: the stub's own count, which includes the redirects' second requests (6 HTTP
  requests per round of 4 tasks);
- CPU s: user + system time of the generator from `os.wait4`, startup included;
- req/CPU-s = requests / CPU s; the ratio is loadhopper's over Locust's;
- steady: the stub's count per generator CPU-second between two probes inside the run (HTTP
  requests, redirects included, so 1.5x the task requests; the same unit for both tools);
- the per-route counts of each tool, as a cross-check that both ran the same mix: every
  route's share of the total should agree to within a fraction of a point (each user's last,
  unfinished round shifts it by at most one request per user).

Nothing here asserts anything: it prints lines, and the tests check only the arithmetic.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from _locustfiles import UserClass
from _metrics import CountSample, per_cpu_second, ratio, share_of_wall, steady_per_cpu_second
from _process import pinned, stop_process
from _tool_run import RunStatus, ToolRun, run_tool, skipped
from _tools import Availability, LoadSpec, Tool, build

__all__ = [
    "CASE3_TOOLS",
    "DEMO_LOCUSTFILE",
    "Case3Result",
    "Case3Row",
    "RouteCount",
    "StubTarget",
    "case3_lines",
    "case3_record",
    "cats_stub",
    "mix_difference",
    "parse_route_counts",
    "realistic_locustfile",
    "run_case3",
]

CASE3_TOOLS = (Tool.LOADHOPPER, Tool.LOCUST_HTTP)
_HERE = Path(__file__).resolve().parent
# The project's own copy of the seed's locustfile (the benchmark must not read ../shared).
DEMO_LOCUSTFILE = _HERE.parent / "src" / "loadhopper" / "demo" / "locustfile.py"
# The only lines case 3 changes, each of which must appear exactly once.
_REPLACEMENTS = (
    (
        "from locust import HttpUser, SequentialTaskSet, between, task\n",
        "from locust import HttpUser, SequentialTaskSet, constant, task\n",
    ),
    ("    wait_time = between(2, 5)\n", "    wait_time = constant(0)\n"),
)
_READY_TIMEOUT = 10.0


def realistic_locustfile(source: str) -> str:
    """The demo locustfile's text with its wait replaced by `constant(0)`, nothing else.

    Raises:
        ValueError: the demo file no longer has the exact lines this replaces.
    """
    text = source
    for old, new in _REPLACEMENTS:
        if text.count(old) != 1:
            raise ValueError(
                f"the demo locustfile does not contain {old.strip()!r} exactly once; "
                "update _REPLACEMENTS in benchmarks/_case3.py to match it."
            )
        text = text.replace(old, new)
    return text


def write_realistic_locustfile(directory: Path) -> Path:
    """Write the case 3 copy of the demo locustfile into `directory` and return its path."""
    path = directory / "locustfile_cats_constant_0.py"
    path.write_text(realistic_locustfile(DEMO_LOCUSTFILE.read_text()))
    return path


@dataclass(frozen=True, slots=True)
class RouteCount:
    """One row of a tool's statistics: (method, name) and its counts."""

    method: str
    name: str
    requests: int
    failures: int

    @property
    def key(self) -> str:
        return f"{self.method} {self.name}"


def parse_route_counts(text: str) -> tuple[RouteCount, ...]:
    """The per-route rows of a JSON summary, sorted by name then method.

    loadhopper's `--json-file` holds them under `rows`; Locust's is a list of the same kind
    of entries. Both name the fields `method`, `name`, `num_requests`, `num_failures`.

    Raises:
        ValueError: the text is not JSON or its rows lack those fields.
    """
    try:
        document: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the JSON summary is not valid JSON ({exc}).") from exc
    rows = document.get("rows") if isinstance(document, dict) else document
    if not isinstance(rows, list):
        raise ValueError("the JSON summary has no list of per-route rows.")
    out = []
    for row in rows:
        try:
            out.append(
                RouteCount(
                    str(row["method"]),
                    str(row["name"]),
                    int(row["num_requests"]),
                    int(row["num_failures"]),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"a per-route row lacks method, name or counts ({exc}).") from exc
    return tuple(sorted(out, key=lambda r: (r.name, r.method)))


def _shares(routes: Sequence[RouteCount]) -> dict[str, float]:
    total = sum(route.requests for route in routes)
    return {route.key: route.requests / total for route in routes} if total else {}


def mix_difference(ours: Sequence[RouteCount], theirs: Sequence[RouteCount]) -> float | None:
    """The largest difference between two tools' shares of any one route, in [0, 1].

    A route that only one tool has counts with a share of 0 on the other side. None when
    either side made no request.
    """
    a, b = _shares(ours), _shares(theirs)
    if not a or not b:
        return None
    return max(abs(a.get(key, 0.0) - b.get(key, 0.0)) for key in a.keys() | b.keys())


@dataclass(frozen=True, slots=True)
class Case3Row:
    """One tool's result in case 3.

    Attributes:
        tool: the generator.
        status: ok, skipped or failed.
        note: why skipped or failed, or warnings.
        requests: the tool's own total request count.
        failures: the tool's own failure count.
        target_requests: HTTP requests the stub answered during the run (redirects included).
        wall_seconds: spawn to exit.
        cpu_seconds: user + system CPU of the generator, startup included.
        requests_per_cpu_second: requests / cpu_seconds.
        steady_per_cpu_second: the stub's count per generator CPU-second between two probes.
        wait_share: between the probes, the time the generator was runnable but waiting for
            its CPU, per wall second: high means other processes starved it (a noisy run).
        routes: the tool's own per-route counts.
    """

    tool: Tool
    status: RunStatus
    note: str
    requests: int | None = None
    failures: int | None = None
    target_requests: int | None = None
    wall_seconds: float | None = None
    cpu_seconds: float | None = None
    requests_per_cpu_second: float | None = None
    steady_per_cpu_second: float | None = None
    wait_share: float | None = None
    routes: tuple[RouteCount, ...] = ()


@dataclass(frozen=True, slots=True)
class Case3Result:
    """Case 3 as a whole."""

    users: int
    seconds: int
    locustfile: str
    generator_cpu: int | None
    target_cpu: int | None
    rows: tuple[Case3Row, ...]
    elapsed_seconds: float

    def row(self, tool: Tool) -> Case3Row | None:
        """The tool's row, if it was run."""
        return next((row for row in self.rows if row.tool is tool), None)

    def _ok(self, tool: Tool) -> Case3Row | None:
        row = self.row(tool)
        return row if row is not None and row.status is RunStatus.OK else None

    def ratio(self) -> float | None:
        """loadhopper's requests per CPU-second over Locust HttpUser's."""
        ours, theirs = self._ok(Tool.LOADHOPPER), self._ok(Tool.LOCUST_HTTP)
        if ours is None or theirs is None:
            return None
        return ratio(ours.requests_per_cpu_second, theirs.requests_per_cpu_second)

    def steady_ratio(self) -> float | None:
        """The same ratio between the probes (startup and shutdown left out)."""
        ours, theirs = self._ok(Tool.LOADHOPPER), self._ok(Tool.LOCUST_HTTP)
        if ours is None or theirs is None:
            return None
        return ratio(ours.steady_per_cpu_second, theirs.steady_per_cpu_second)

    def mix_difference(self) -> float | None:
        """The largest difference in any route's share between the two tools."""
        ours, theirs = self._ok(Tool.LOADHOPPER), self._ok(Tool.LOCUST_HTTP)
        if ours is None or theirs is None:
            return None
        return mix_difference(ours.routes, theirs.routes)


def _num(value: float | None, spec: str = ",.0f") -> str:
    return "-" if value is None else format(value, spec)


def _cpu_label(cpu: int | None) -> str:
    return "unpinned" if cpu is None else f"CPU {cpu}"


def _table_row(row: Case3Row) -> str:
    busy = None
    if row.cpu_seconds is not None and row.wall_seconds:
        busy = 100.0 * row.cpu_seconds / row.wall_seconds
    return (
        f"{row.tool.label:<16} {row.status.value:<8} {_num(row.requests):>11} "
        f"{_num(row.failures):>6} {_num(row.target_requests):>11} "
        f"{_num(row.wall_seconds, '.1f'):>6} {_num(row.cpu_seconds, '.2f'):>7} "
        f"{_num(busy, '.0f'):>4} {_num(row.requests_per_cpu_second):>10} "
        f"{_num(row.steady_per_cpu_second):>10} {_num(_pct(row.wait_share), '.0f'):>5}"
    )


def _pct(share: float | None) -> float | None:
    return None if share is None else 100.0 * share


def _routes_line(row: Case3Row) -> str:
    total = sum(route.requests for route in row.routes)
    parts = [
        f"{route.key} {route.requests:,} ({100.0 * route.requests / total:.1f} %)"
        + (f" {route.failures:,} failed" if route.failures else "")
        for route in row.routes
    ]
    return f"case3 routes {row.tool.label}: " + ("; ".join(parts) if parts else "none")


def _failures_phrase(ours: Case3Row, theirs: Case3Row) -> str:
    if not ours.failures and not theirs.failures:
        return "0 failures in both"
    return (
        f"FAILURES: loadhopper {ours.failures or 0:,}, Locust {theirs.failures or 0:,} "
        "(both must be 0; the ratio is not a clean comparison)"
    )


def case3_lines(result: Case3Result) -> list[str]:
    """The case 3 table, each tool's per-route counts and the `case3 realistic:` line."""
    lines = [
        f"case 3: realistic task code: {result.locustfile}, {result.users} users, "
        f"{result.seconds} s per tool; target the cats stub on {_cpu_label(result.target_cpu)}, "
        f"generator on {_cpu_label(result.generator_cpu)}",
        f"{'tool':<16} {'status':<8} {'requests':>11} {'fails':>6} {'target saw':>11} "
        f"{'wall s':>6} {'CPU s':>7} {'CPU%':>4} {'req/CPU-s':>10} {'steady':>10} {'wait%':>5}",
        *(_table_row(row) for row in result.rows),
        "",
    ]
    for row in result.rows:
        if row.status is not RunStatus.OK:
            lines.append(f"case3 {row.tool.label} {row.status.value}: {row.note}")
        else:
            lines.append(_routes_line(row))
    ours, theirs = result.row(Tool.LOADHOPPER), result.row(Tool.LOCUST_HTTP)
    value = result.ratio()
    if ours is None or theirs is None or value is None:
        lines.append("case3 realistic: needs both loadhopper and locust-http with numbers")
        return lines
    line = (
        f"case3 realistic: loadhopper {_num(ours.requests_per_cpu_second)} req/CPU-s vs Locust "
        f"HttpUser {_num(theirs.requests_per_cpu_second)} req/CPU-s: ratio {value:.2f}x"
    )
    steady = result.steady_ratio()
    if steady is not None:
        line += f" (steady {steady:.2f}x)"
    line += f"; {_failures_phrase(ours, theirs)}"
    mix = result.mix_difference()
    if mix is not None:
        line += f"; route mix within {100.0 * mix:.2f} points"
    lines.append(line)
    return lines


def case3_record(result: Case3Result) -> dict[str, Any]:
    """The JSON-ready record of case 3, derived ratios included."""
    record = asdict(result)
    record["ratio_loadhopper_vs_locust_http"] = result.ratio()
    record["steady_ratio_loadhopper_vs_locust_http"] = result.steady_ratio()
    record["route_mix_difference"] = result.mix_difference()
    return record


@dataclass(slots=True)
class StubTarget:
    """The running cats stub: its URL and the counts it has printed."""

    url: str
    _samples: list[CountSample] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def request_count(self) -> int | None:
        """Requests answered so far (the latest total printed, at most 0.25 s old)."""
        with self._lock:
            return self._samples[-1].total if self._samples else None

    def _read(self, stream: Any) -> None:
        for raw in iter(stream.readline, b""):
            parts = raw.split()
            if len(parts) == 2:
                with contextlib.suppress(ValueError), self._lock:
                    self._samples.append(CountSample(float(parts[0]), int(parts[1])))


@contextlib.contextmanager
def cats_stub(workdir: Path, cpu: int | None) -> Iterator[StubTarget]:
    """Run `_cats_stub.py` pinned to `cpu` for the block's duration; stop it by its pid."""
    argv = [sys.executable, str(_HERE / "_cats_stub.py")]
    stderr = (workdir / "cats_stub.err").open("wb")
    with pinned(cpu):
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr)
    assert process.stdout is not None
    try:
        ready = _ready_line(process)
        if len(ready) != 2 or ready[0] != b"READY":
            raise RuntimeError(f"the cats stub did not start; see {workdir / 'cats_stub.err'}.")
        target = StubTarget(f"http://127.0.0.1:{int(ready[1])}")
        reader = threading.Thread(target=target._read, args=(process.stdout,), daemon=True)
        reader.start()
        # The stub prints its first count at once; until it is read, "target saw" of the
        # first tool would have no baseline.
        deadline = time.monotonic() + _READY_TIMEOUT
        while target.request_count() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        yield target
    finally:
        stop_process(process)
        stderr.close()


def _ready_line(process: subprocess.Popen[bytes]) -> list[bytes]:
    # readline() would block forever on a stub that hangs before printing: read it in a
    # thread and give up after _READY_TIMEOUT.
    got: list[bytes] = []
    stdout = process.stdout
    assert stdout is not None
    reader = threading.Thread(target=lambda: got.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(_READY_TIMEOUT)
    return got[0].split() if got else []


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "none"
    return " | ".join(line.strip() for line in text[-lines:]) or "empty"


def _measure(
    tool: Tool, spec: LoadSpec, target: StubTarget, workdir: Path, cpu: int | None
) -> Case3Row:
    print(f"case3: running {tool.label} for {spec.seconds} s ...", flush=True)
    before = target.request_count()
    # Probes as in case 1: after every tool's startup, before its -t ends.
    probe_at = (min(3.0, spec.seconds * 0.3), spec.seconds - 0.5) if spec.seconds >= 4 else ()
    run: ToolRun = run_tool(tool, spec, workdir, cpu, "case3", probe_at, target.request_count)
    time.sleep(0.6)  # the stub prints its count every 0.25 s
    after = target.request_count()
    measured, summary = run.measured, run.summary
    requests = summary.requests if summary else None
    cpu_seconds = measured.cpu_seconds if measured else None
    rate = None
    if requests is not None and cpu_seconds is not None:
        rate = per_cpu_second(requests, cpu_seconds)
    steady = wait = None
    probes = measured.probes if measured else ()
    if run.status is RunStatus.OK and len(probes) == 2:
        first, last = probes
        if first.count is not None and last.count is not None:
            steady = steady_per_cpu_second(
                first.count, first.cpu_seconds, last.count, last.cpu_seconds
            )
        if first.run_delay_seconds is not None and last.run_delay_seconds is not None:
            wait = share_of_wall(
                first.time, first.run_delay_seconds, last.time, last.run_delay_seconds
            )
    routes: tuple[RouteCount, ...] = ()
    status, note = run.status, run.note
    rundir = workdir / f"case3-{tool.value}"  # where run_tool put this run's files
    if status is RunStatus.FAILED and "stderr:" not in note:
        note = f"{note}; stderr: {_tail(rundir / 'stderr.txt')}"
    summary_path = build(tool, spec, rundir).summary_path
    if run.status is RunStatus.OK and summary_path is not None:
        try:
            routes = parse_route_counts(summary_path.read_text())
        except (OSError, ValueError) as exc:
            status, note = RunStatus.FAILED, f"{note}; {exc}".lstrip("; ")
    return Case3Row(
        tool=tool,
        status=status,
        note=note,
        requests=requests,
        failures=summary.failures if summary else None,
        target_requests=after - before if before is not None and after is not None else None,
        wall_seconds=measured.wall_seconds if measured else None,
        cpu_seconds=cpu_seconds,
        requests_per_cpu_second=rate,
        steady_per_cpu_second=steady,
        wait_share=wait,
        routes=routes,
    )


def run_case3(
    tools: Sequence[Tool],
    available: Mapping[Tool, Availability],
    users: int,
    seconds: int,
    cpus: tuple[int | None, int | None],
    workdir: Path,
) -> Case3Result:
    """Run loadhopper, then Locust HttpUser, on the demo locustfile against the cats stub.

    Args:
        tools: the tools requested; only those in CASE3_TOOLS run.
        available: each tool's availability.
        users: concurrent users, all started within the first second (-r = users).
        seconds: run time of each tool.
        cpus: (generator CPU, target CPU); None leaves that side unpinned.
        workdir: a temporary directory.
    """
    began = time.monotonic()
    generator_cpu, target_cpu = cpus
    locustfile = write_realistic_locustfile(workdir)
    # One file for both user-class slots: Locust runs it with its HttpUser as written.
    locustfiles = {cls: locustfile for cls in UserClass}
    target_dir = workdir / "target3"
    target_dir.mkdir()
    rows = []
    with cats_stub(target_dir, target_cpu) as target:
        spec = LoadSpec(target.url, users, float(users), seconds, locustfiles, UserClass.HTTP)
        for tool in (t for t in tools if t in CASE3_TOOLS):
            if not available[tool].ok:
                print(f"case3: skipping {tool.label}: {available[tool].detail}")
                skip = skipped(tool, available[tool].detail)
                rows.append(Case3Row(tool, skip.status, skip.note))
                continue
            rows.append(_measure(tool, spec, target, workdir, generator_cpu))
    return Case3Result(
        users=users,
        seconds=seconds,
        locustfile="the demo locustfile with constant(0)",
        generator_cpu=generator_cpu,
        target_cpu=target_cpu,
        rows=tuple(rows),
        elapsed_seconds=time.monotonic() - began,
    )
