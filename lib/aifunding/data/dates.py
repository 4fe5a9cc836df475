"""Partial dates (YYYY, YYYY-MM, YYYY-MM-DD) as the sources give them, and the days they can mean."""

from __future__ import annotations

import calendar
import datetime


def partial_bounds(value: str) -> tuple[datetime.date, datetime.date]:
    """First and last day a partial date (YYYY, YYYY-MM, YYYY-MM-DD) can mean."""
    parts = [int(p) for p in value.split("-")]
    if len(parts) == 3:
        day = datetime.date(*parts)
        return day, day
    if len(parts) == 2:
        year, month = parts
        return datetime.date(year, month, 1), datetime.date(year, month, calendar.monthrange(year, month)[1])
    return datetime.date(parts[0], 1, 1), datetime.date(parts[0], 12, 31)
