"""The JUnit XML file (`--junit FILE`): a run's verdicts as test cases a CI system shows.

The shape is the one GitLab, Jenkins and GitHub's test reporters read (the de-facto
"Ant JUnit" format; there is no single official schema):

    <testsuites name tests failures errors skipped time timestamp>
      <testsuite name tests failures errors skipped time timestamp hostname>
        <properties><property name value/>...</properties>
        <testcase name classname time>
          <failure message type>details</failure>      (or <error>, or <skipped message/>)
        </testcase>
      </testsuite>
    </testsuites>

What the test cases are:

- With thresholds, one case per threshold, named by its expression: a failure says the
  observed value against the limit; a threshold with no data to judge is *skipped*, its
  message saying why (the run itself still counts it as failed: exit code 99).
- Without thresholds, one case per stats row ("GET /api"), failing when the row had
  request failures (counts and the most frequent errors), and one erroring case when the
  user code raised exceptions, so that a run that exits non-zero is never all green.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime

from loadhopper.report._run_info import RunInfo
from loadhopper.stats import FailureSnapshot, RowSnapshot, StatsSnapshot, ThresholdResult

__all__ = ["render_junit"]

# Errors listed in a failing row's details; the message names the most frequent one.
_TOP_ERRORS = 5
# XML 1.0 forbids most control characters even escaped; an error message from a server can
# hold any byte, so those are replaced rather than making the file unreadable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def render_junit(snapshot: StatsSnapshot, run: RunInfo) -> str:
    """The JUnit XML document for a finished (or interrupted) run.

    Args:
        snapshot: the final statistics.
        run: the run's identity and its thresholds' verdicts.

    Returns:
        The document, UTF-8 declared, ending with a newline.
    """
    if run.thresholds:
        suite_name = "loadhopper thresholds"
        cases = [_threshold_case(result) for result in run.thresholds]
    else:
        suite_name = "loadhopper requests"
        cases = [_row_case(row, snapshot.failures) for row in snapshot.rows]
        if snapshot.exceptions:
            cases.append(_exceptions_case(snapshot))
    counts = _counts(cases)
    attributes = {
        "tests": str(len(cases)),
        "failures": str(counts["failure"]),
        "errors": str(counts["error"]),
        "skipped": str(counts["skipped"]),
        "time": f"{run.duration:.3f}",
        # JUnit's timestamp is a local-less ISO 8601 date-time; UTC, so that CI hosts in
        # different zones agree.
        "timestamp": datetime.fromtimestamp(run.start_time, UTC).strftime("%Y-%m-%dT%H:%M:%S"),
    }
    root = ET.Element("testsuites", {"name": "loadhopper", **attributes})
    suite = ET.SubElement(root, "testsuite", {"name": suite_name, **attributes})
    if run.host:
        suite.set("hostname", _clean(run.host))
    properties = ET.SubElement(suite, "properties")
    for name, value in _properties(snapshot, run):
        ET.SubElement(properties, "property", {"name": name, "value": _clean(value)})
    suite.extend(cases)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def _properties(snapshot: StatsSnapshot, run: RunInfo) -> list[tuple[str, str]]:
    properties = [
        ("host", run.host or ""),
        ("users", str(run.users)),
        ("spawn_rate", f"{run.spawn_rate:g}"),
        ("run_time", "" if run.run_time is None else f"{run.run_time:g}"),
        ("duration", f"{run.duration:.3f}"),
        ("locustfile", run.locustfile),
        ("version", run.version),
        ("requests", str(snapshot.total.num_requests)),
        ("failures", str(snapshot.total.num_failures)),
    ]
    if run.load_model:
        properties.append(("load_model", run.load_model))
    return properties


def _case(name: str, classname: str) -> ET.Element:
    return ET.Element("testcase", {"name": _clean(name), "classname": classname, "time": "0"})


def _threshold_case(result: ThresholdResult) -> ET.Element:
    case = _case(result.expression, "loadhopper.thresholds")
    on_row = f" on {result.row}" if result.row else ""
    if result.value is None:
        message = (
            f"Not judged{on_row}: {result.value_text}; the run counts it as failed (exit code 99)."
        )
        ET.SubElement(case, "skipped", {"message": _clean(message)})
    elif not result.passed:
        message = (
            f"{result.metric}{on_row} was {result.value_text}, "
            f"limit {result.operator} {result.limit_text}."
        )
        failure = ET.SubElement(case, "failure", {"message": _clean(message), "type": "threshold"})
        details = [message]
        if result.first_breach is not None:
            first = datetime.fromtimestamp(result.first_breach, UTC).isoformat(timespec="seconds")
            details.append(f"First failed at {first}.")
        if result.aborted:
            details.append("This breach stopped the run (--threshold-abort).")
        failure.text = _clean("\n".join(details))
    return case


def _row_name(row: RowSnapshot) -> str:
    return f"{row.method} {row.name}" if row.method else row.name


def _row_case(row: RowSnapshot, failures: Sequence[FailureSnapshot]) -> ET.Element:
    case = _case(_row_name(row), "loadhopper.requests")
    if not row.num_failures:
        return case
    errors = [f for f in failures if f.method == row.method and f.name == row.name]
    share = row.num_failures / row.num_requests if row.num_requests else 1.0
    message = f"{row.num_failures} of {row.num_requests} requests failed ({share:.2%})"
    if errors:
        top = errors[0]  # failures come most frequent first
        message += f"; most frequent: {top.error} ({top.occurrences}x)"
    failure = ET.SubElement(case, "failure", {"message": _clean(message), "type": "requests"})
    lines = [f"{f.occurrences}x {f.error}" for f in errors[:_TOP_ERRORS]]
    if len(errors) > _TOP_ERRORS:
        lines.append(f"... and {len(errors) - _TOP_ERRORS} other errors")
    failure.text = _clean("\n".join(lines) or message)
    return case


def _exceptions_case(snapshot: StatsSnapshot) -> ET.Element:
    case = _case("exceptions in user code", "loadhopper.exceptions")
    count = sum(e.count for e in snapshot.exceptions)
    top = snapshot.exceptions[0]
    message = f"{count} exceptions in user code; most frequent: {top.message} ({top.count}x)"
    error = ET.SubElement(case, "error", {"message": _clean(message), "type": "exception"})
    error.text = _clean(f"{top.traceback}".rstrip() or top.message)
    return case


def _counts(cases: Sequence[ET.Element]) -> dict[str, int]:
    counts = {"failure": 0, "error": 0, "skipped": 0}
    for case in cases:
        for child in case:
            if child.tag in counts:
                counts[child.tag] += 1
    return counts


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)
