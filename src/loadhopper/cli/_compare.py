"""`loadhopper compare BASE.json NEW.json`: how a run changed against another, for people and CI.

Exit codes: 0 when no `--fail-on` condition holds (or none was given), 98 when one holds
(each is printed), 2 when a file is not a summary, a condition is malformed or the HTML
page cannot be written. 98 is not 1 because a run's 1 means failed requests, nor 99
because 99 is a threshold failing: a CI script can tell "the run regressed against its
baseline" from both. The same 98 is what `--baseline` with `--fail-on` gives a run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from loadhopper._exceptions import ConfigError, LoadhopperError
from loadhopper.cli._options import Options
from loadhopper.report._compare import (
    Comparison,
    RunSummary,
    compare_runs,
    format_comparison,
    glyphs_for,
    load_summary,
    parse_summary,
)
from loadhopper.report._fail_on import (
    FailOn,
    FailOnResult,
    check_fail_on,
    evaluate_fail_on,
    format_fail_on,
    parse_fail_on,
)

__all__ = [
    "EXIT_REGRESSED",
    "Baseline",
    "compare_main",
    "comparison_text",
    "load_baseline",
    "parse_conditions",
]

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_REGRESSED = 98  # a --fail-on condition holds (see the module docstring)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse's own usage errors exit 2 as well; this keeps them one line.
        self.exit(EXIT_USAGE, f"loadhopper compare: {message}; see `loadhopper compare --help`.\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="loadhopper compare",
        description="Compare two runs' JSON summaries (written by --json-file): per row and "
        "for the Aggregated row, requests/s, failure ratio and each percentile, base -> new.",
        epilog="Exit codes: 0 no --fail-on condition holds, 98 one holds, 2 a usage error.",
    )
    parser.add_argument("base", metavar="BASE.json", help="The baseline run's JSON summary.")
    parser.add_argument("new", metavar="NEW.json", help="The new run's JSON summary.")
    parser.add_argument(
        "--html", metavar="FILE", help="Also write the comparison as a self-contained HTML page."
    )
    parser.add_argument(
        "--fail-on",
        dest="fail_on",
        metavar="EXPR",
        action="append",
        default=[],
        help="Exit 98 when the change holds, repeatable: 'p95>+10%%', 'Aggregated:p99>+5ms', "
        "'GET /api:rps<-20%%', 'fail_ratio>+0.01'.",
    )
    return parser


def parse_conditions(texts: Sequence[str]) -> tuple[FailOn, ...]:
    """Parse every `--fail-on` text (raises ValueError with one sentence for a bad one)."""
    return tuple(parse_fail_on(text) for text in texts)


def comparison_text(
    comparison: Comparison, conditions: Sequence[FailOn], stream: TextIO
) -> tuple[str, tuple[FailOnResult, ...]]:
    """The comparison and the conditions' lines as text for `stream`, and the verdicts.

    Raises:
        ValueError: a condition asks for a percentile that not both files report.
    """
    check_fail_on(conditions, comparison)
    results = evaluate_fail_on(conditions, comparison)
    unicode = glyphs_for(getattr(stream, "encoding", None))
    text = format_comparison(comparison, unicode=unicode)
    verdicts = format_fail_on(results)
    return (text + "\n" + verdicts if verdicts else text), results


def compare_main(args: Sequence[str]) -> int:
    """Run `loadhopper compare` (see the module docstring for the exit codes)."""
    options = _parser().parse_args(list(args))
    try:
        conditions = parse_conditions(options.fail_on)
        comparison = compare_runs(load_summary(options.base), load_summary(options.new))
        text, results = comparison_text(comparison, conditions, sys.stdout)
    except ValueError as exc:
        print(f"loadhopper compare: {exc}", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(text)
    sys.stdout.flush()
    if options.html and not _write_html(Path(options.html), comparison, results):
        return EXIT_USAGE
    return EXIT_REGRESSED if any(result.holds for result in results) else EXIT_OK


def _write_html(path: Path, comparison: Comparison, results: Sequence[FailOnResult]) -> bool:
    # Imported here: the text comparison never needs plotly.js read from disk.
    from loadhopper.report._compare_html import write_comparison_html

    try:
        write_comparison_html(path, comparison, results)
    except (OSError, LoadhopperError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(
            f"loadhopper compare: cannot write {path}: {reason.rstrip('.')}.",
            file=sys.stderr,
        )
        return False
    return True


# ---- --baseline on a run --------------------------------------------------------------------


class Baseline:
    """`--baseline BASE.json` (with its `--fail-on` conditions) on a normal run.

    Loaded and checked before the test starts (`load_baseline`), so that a wrong file is a
    usage error before any request; compared with the run's own summary at its end.
    """

    def __init__(self, summary: RunSummary, conditions: tuple[FailOn, ...]) -> None:
        self.summary = summary
        self.conditions = conditions

    def report(self, summary: dict[str, Any], stream: TextIO) -> bool:
        """Print the comparison of this run's summary (`summary_dict`) with the baseline.

        Returns:
            True when a `--fail-on` condition holds (the run regressed).
        """
        comparison = compare_runs(self.summary, parse_summary(summary, "this run"))
        try:
            text, results = comparison_text(comparison, self.conditions, stream)
        except ValueError as exc:  # a percentile this run does not report (-P differs)
            print(f"Comparison with the baseline: {exc}", file=stream, flush=True)
            return True
        print(f"Comparison with the baseline {self.summary.source}:", file=stream)
        print(text, file=stream, end="", flush=True)
        return any(result.holds for result in results)


def load_baseline(options: Options) -> Baseline | None:
    """The run's `--baseline`, checked, or None without one.

    Raises:
        ConfigError: the file is not a summary, a `--fail-on` is malformed, or `--fail-on`
            was given without `--baseline`.
    """
    path, texts = options.baseline, options.fail_on
    try:
        conditions = parse_conditions(texts)
        if path is None:
            if conditions:
                raise ValueError(
                    "--fail-on compares with a baseline run; give --baseline BASE.json too "
                    "(or use `loadhopper compare BASE.json NEW.json --fail-on ...`)."
                )
            return None
        return Baseline(load_summary(path), conditions)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
