"""The tables to read a page draws as HTML (``ui.blocks.reading_table``), read back under AppTest as text."""

from __future__ import annotations

import html
import html.parser

from streamlit.testing.v1 import AppTest


class _Cells(html.parser.HTMLParser):
    """The text of each row's cells (the header's included) of an HTML table, as a browser shows them."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.rows[-1].append("")

    def handle_data(self, data: str) -> None:
        if self.rows and self.rows[-1]:
            self.rows[-1][-1] += data


def reading_table(at: AppTest, label: str) -> list[list[str]]:
    """The rows (its header first) of the one table to read labelled ``label`` on the page.

    Asserts that it holds no markup of its own: whatever a package's text holds is written as text.
    """
    labelled = f"<table role='table' aria-label='{html.escape(label, quote=True)}'>"
    (table,) = [element.proto.body for element in at.get("html") if labelled in element.proto.body]
    assert "<script" not in table and "<b>" not in table
    cells = _Cells()
    cells.feed(table)
    return cells.rows
