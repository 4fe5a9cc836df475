"""The programme tree as an indented table: frame > programme > round > component, awards counted under each."""

from __future__ import annotations

import pandas as pd

from aifunding import columns as C
from aifunding.analysis.conversion import ORIGINAL, Money
from aifunding.analysis.metrics import localized
from aifunding.data.tree import ProgrammeTree
from aifunding.figures.base import money_label
from aifunding.figures.presentation import column
from aifunding.figures.worded import Worded
from aifunding.i18n import Translator
from aifunding.money.formatting import format_composition


def nesting_table(
    programmes: pd.DataFrame, tree: ProgrammeTree, *, money: Money = ORIGINAL, lang: str = "en"
) -> pd.DataFrame:
    """Programmes as an indented tree (frame > programme > round > component), awards counted under each."""
    return nesting_rows(programmes, tree, money=money, lang=lang).whole()


def nesting_rows(programmes: pd.DataFrame, tree: ProgrammeTree, *, money: Money = ORIGINAL, lang: str = "en") -> Worded:
    """:func:`nesting_table`'s rows in outline order, each page worded when it is shown.

    A view of a million awards holds thousands of programmes and rounds: the dashboard shows a thousand
    at a time, and words (amounts, allocations by basis, names) only those.
    """
    value_column, currency_column = money.value_column, money.currency_column
    t = Translator(lang)
    index_of = dict(zip(programmes["id"], programmes.index, strict=True))
    announced = dict(zip(programmes["id"], programmes["announced"], strict=True))
    outline = tree.ordered(programmes["id"], key=lambda pid: str(announced[pid] or ""))
    order = pd.DataFrame([(index_of[pid], depth) for pid, depth in outline], columns=["index", "depth"])
    keys = ("programme", "level", "amount", "named_awards", "allocated", "country", "id")
    wanted = ["level", value_column, currency_column, "basis", C.N_AWARDS, C.ALLOCATED_CURRENCY, "id"]
    wanted += [C.ALLOCATED_BY_BASIS] if C.ALLOCATED_BY_BASIS in programmes.columns else []

    def word(part: pd.DataFrame) -> pd.DataFrame:
        shown = programmes.loc[part["index"].tolist()]
        names = localized(shown, "name", lang).tolist()
        countries = localized(shown, "country_name", lang).tolist()
        rows = []
        # Rows as plain dicts, read once: a lookup per programme through .loc costs a Series each.
        for depth, name, country, row in zip(
            part["depth"].tolist(), names, countries, shown[wanted].to_dict("records"), strict=True
        ):
            parts, allocated_currency = row.get(C.ALLOCATED_BY_BASIS), row[C.ALLOCATED_CURRENCY]
            cells = (
                "\u2003" * depth + ("└ " if depth else "") + str(name),
                t(f"level.{row['level']}"),
                money_label(row[value_column], row[currency_column], row["basis"], lang),
                int(row[C.N_AWARDS]) if not pd.isna(row[C.N_AWARDS]) else 0,
                format_composition(parts, allocated_currency, locale=lang)
                if isinstance(parts, dict) and isinstance(allocated_currency, str)
                else "",
                country,
                row["id"],
            )
            rows.append(dict(zip(keys, cells, strict=True)))
        return pd.DataFrame(rows, columns=list(keys)).rename(columns=lambda key: column(key, lang))

    return Worded(order, word)
