"""The validation report as the Data page shows it: its problems, its quarantined rows and its counts.

Headers and severities are in the page's language (through :func:`~aifunding.figures.presentation.column`); the
validator's messages are English.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from aifunding.figures.presentation import column
from aifunding.i18n import translate


def quarantine_table(report: Any, lang: str = "en") -> pd.DataFrame:
    """Quarantined rows: where they were and why, with their raw values (headers in ``lang``)."""
    keys = ("table", "file", "line", "why", "row")
    rows = [
        (q.table, q.file, q.line, "; ".join(q.reasons), ", ".join(f"{k}={v}" for k, v in q.row.items() if v))
        for q in report.quarantined
    ]
    return pd.DataFrame(rows, columns=[column(key, lang) for key in keys])


def report_table(report: Any, lang: str = "en") -> pd.DataFrame:
    """The validation report as a table: severity, where, field, value, message.

    Headers and severities are in ``lang``; the validator's messages are English.
    """
    keys = ("severity", "table", "file", "line", "field", "raw_value", "message")
    severity = {kind: translate(f"severity.{kind}", lang) for kind in ("error", "warning")}
    rows = [(severity[p.severity], p.table, p.file, p.line, p.field, p.value, p.message) for p in report.problems]
    return pd.DataFrame(rows, columns=[column(key, lang) for key in keys])


def report_counts(report: Any, lang: str = "en") -> str:
    """Errors, warnings and rows in one line, as ``ValidationReport.counts`` says it in English (3,522,095 rows)."""
    stats = {key: value for key, value in report.stats().items() if key != "by_table"}
    grouped = {key: f"{value:,}" for key, value in stats.items()}
    why = report.unchecked_why()
    key = "data.counts_unchecked" if why == "unread" else f"data.counts_unchecked_{why}"
    unchecked = translate(key, lang, **grouped) if stats["rows_unchecked"] else ""
    return translate("data.counts", lang, **grouped) + unchecked
