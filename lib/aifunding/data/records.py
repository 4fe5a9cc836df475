"""The records of a CSV text as the csv module reads them, and a quote that runs on past its line.

A quoted cell may hold line ends, so the csv module reads on from an opening quote to the next quote,
however many lines later. A quote left open (``"GPU cloud`` with no closing quote) therefore takes the
lines after it into its cell, to the next quote anywhere in the file or to the end of the file: those
lines' rows are never read. :func:`runaway_quote` tells such a cell from one that legitimately holds
line ends: its record, read over several lines, has another number of values than the header has
columns, or its quote is closed by one that text follows (``"cloud`` ... ``,"Note"``: strict CSV
refuses that), or the file ends inside it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass


class CsvReader:
    """The csv module's reader of a text, line by line (any line end), counting lines in ``line_num``.

    It also keeps the last line it took (the one its last record ended on) and whether that was the
    text's last, which :func:`runaway_quote` needs.
    """

    def __init__(self, text: str, offset: int = 0) -> None:
        self._offset = offset  # lines before the text's first, in the file it is a piece of
        self._size = len(text)
        self._taken = 0
        self.last_line = ""
        self._records = csv.reader(self._lines(io.StringIO(text, newline="")))

    def _lines(self, source: io.StringIO) -> Iterator[str]:
        for line in source:
            self.last_line = line
            self._taken += len(line)
            yield line

    def __iter__(self) -> CsvReader:
        return self

    def __next__(self) -> list[str]:
        return next(self._records)

    @property
    def line_num(self) -> int:
        """The lines taken so far, as a text editor counts them (a lone carriage return ends one too)."""
        return self._records.line_num + self._offset

    @property
    def at_end(self) -> bool:
        """Whether the last record ended at the end of the text."""
        return self._taken == self._size


@dataclass(frozen=True)
class RunawayQuote:
    """A quoted cell that ran on past its line: which value of its record, and the lines it took."""

    index: int  # the cell's position in its record (and so its column in the header, if it has one)
    opened: int  # the line its quote opened on
    end: int  # the last line read into it
    closed: bool  # False when the file ends inside it

    @property
    def lost(self) -> int:
        """The lines after :attr:`opened` read into the cell, whose rows were never read."""
        return self.end - self.opened

    def describe(self, what: str) -> str:
        """What happened, in words, for ``what`` (the cell, the header) and the rows read into it."""
        fix = 'close the quote on its own line, or double a quote that is part of the text ("")'
        lines = f"line {self.end:,}" if self.lost == 1 else f"lines {self.opened + 1:,} to {self.end:,}"
        count = "1 line" if self.lost == 1 else f"{self.lost:,} lines"
        if not self.closed and not self.lost:
            return f"a quote opens {what} and is never closed: the file ends inside it; {fix}"
        if not self.closed:
            return (
                f"a quote opens {what} and is never closed, so the rest of the file, {lines} ({count}, to the end), "
                f"was read into it and none of those rows was loaded; {fix}"
            )
        return (
            f"a quote opens {what} and is not closed on its line: the next quote is on line {self.end:,}, so {lines} "
            f"({count}) {'was' if self.lost == 1 else 'were'} read into it and "
            f"{'its row was' if self.lost == 1 else 'none of their rows was'} loaded; {fix}"
        )


def runaway_quote(reader: CsvReader, values: list[str], start: int, width: int | None) -> RunawayQuote | None:
    """The cell of ``values`` (the record ``reader`` read last, from line ``start``) whose quote ran on, if one did.

    ``width`` is how many values a record should have (None for the header, which has no such count).
    A record on one line is looked at only when it is the text's last (a quote can stay open only there).
    """
    end = reader.line_num
    if not values or (end == start and not reader.at_end):
        return None
    # Every line of a record after its first begins inside a quoted cell: reopen it to read the last one alone.
    last = reader.last_line if end == start else '"' + reader.last_line
    closed = _strict(last)
    if not closed and _strict(last + '"'):  # the record ended inside a quoted cell: the file ends there
        index = len(values) - 1
    elif closed and (end == start or width is None or len(values) == width):
        return None  # every cell over several lines is closed where it should be
    elif end == start:
        return None  # one line with text after a closing quote: the csv module reads it as one value
    else:
        index = next((i for i, value in enumerate(values) if _breaks(value)), 0)
        closed = True
    opened = start + sum(_breaks(value) for value in values[:index])
    return RunawayQuote(index, opened, end, closed)


def misquoted_cell(line: str) -> int | None:
    """The position of the first cell of ``line`` (a record on one line) whose closing quote text follows, if any.

    ``"GPU cloud,...,"Note"``: the quote left open on the cell closes at the note's opening quote, and the csv
    module reads what lies between as one value, so the line has too few.
    """
    index, at_start, inside, closed = 0, True, False, False
    for char in line:
        if inside:
            inside, closed = char != '"', char == '"'
        elif closed and char not in ',"\r\n':
            return index
        elif char == '"' and (at_start or closed):  # an opening quote, or the second of a doubled one
            inside, closed, at_start = True, False, False
        else:
            if char == ",":
                index += 1
            at_start, closed = char == ",", False
    return None


def _strict(line: str) -> bool:
    """Whether ``line`` is one record of strict CSV: every quote closed, and only a comma or line end after it."""
    try:
        return len(list(csv.reader([line], strict=True))) == 1
    except csv.Error:
        return False


def _breaks(value: str) -> int:
    """How many line ends ``value`` holds (a line feed, a carriage return, or both together)."""
    return value.count("\n") + value.count("\r") - value.count("\r\n")
