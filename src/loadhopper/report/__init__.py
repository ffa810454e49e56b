"""Reports: console tables, CSV files, the JSON summary and the HTML report, from snapshots."""

from loadhopper.report._console import (
    RateKind,
    format_exceptions,
    format_failures,
    format_percentiles_table,
    format_stats_table,
    format_summary,
    format_thresholds,
    threshold_value,
)
from loadhopper.report._csv import (
    MAX_PENDING_HISTORY_BYTES,
    CsvReport,
    exceptions_csv_rows,
    failures_csv_rows,
    history_csv_header,
    history_csv_rows,
    stats_csv_header,
    stats_csv_rows,
)
from loadhopper.report._files import replace_file
from loadhopper.report._format import format_ms, percentile_label
from loadhopper.report._html import MAX_REPORT_BYTES, render_html_report, write_html_report
from loadhopper.report._json import SCHEMA, format_json, summary_dict
from loadhopper.report._junit import render_junit
from loadhopper.report._run_info import RunInfo
from loadhopper.report._spectrum import LatencySpectrum, report_spectra

__all__ = [
    "MAX_PENDING_HISTORY_BYTES",
    "MAX_REPORT_BYTES",
    "SCHEMA",
    "CsvReport",
    "LatencySpectrum",
    "RateKind",
    "RunInfo",
    "exceptions_csv_rows",
    "failures_csv_rows",
    "format_exceptions",
    "format_failures",
    "format_json",
    "format_ms",
    "format_percentiles_table",
    "format_stats_table",
    "format_summary",
    "format_thresholds",
    "history_csv_header",
    "history_csv_rows",
    "percentile_label",
    "render_html_report",
    "render_junit",
    "replace_file",
    "report_spectra",
    "stats_csv_header",
    "stats_csv_rows",
    "summary_dict",
    "threshold_value",
    "write_html_report",
]
