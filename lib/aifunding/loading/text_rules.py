"""Package rules on the texts a register brings: English columns without English, one body or programme under two ids.

Warnings, never errors: the rows are well formed, and a person decides whether two rows are one.

- ``english-text``: a value of an English text column (``name_en``, ``purpose_en``, ...) holds no
  Latin letter, one warning per cell;
- ``organisation-name``: an organisation has the name (``name_en`` or ``name_ja``, either against
  either) of an earlier one of its country, compared by :func:`~aifunding.data.text_keys.name_keys`;
  one warning per later organisation, naming the first;
- ``programme-title``: a programme has the title of an earlier one with the same parent (both at the
  top, or both inside one programme), compared by :func:`~aifunding.data.text_keys.title_keys`
  (width, case, spaces, middle dots and particles set aside); one warning per later programme.

These are the per-row rules; :mod:`aifunding.loading.columnar_text_rules` finds the same by column,
and both word their problems in :mod:`aifunding.loading.rule_problems`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence

import pyarrow as pa  # type: ignore[import-untyped]

from aifunding.data.models import Organisation, Programme
from aifunding.data.parsing import LoadedRow, typed_rows
from aifunding.data.report import Problem
from aifunding.data.text_keys import Texts, has_latin_letter, name_keys, title_keys
from aifunding.loading.rule_problems import (
    ENGLISH_COLUMNS,
    NAME_COLUMNS,
    english_text_problem,
    namesake_problem,
)

Rows = dict[str, list[LoadedRow]]


def check_english_text(rows: Rows) -> Iterator[Problem]:
    """An English text column holds Latin letters: one warning per cell without any, row by row."""
    for table, columns in ENGLISH_COLUMNS.items():
        for row in rows[table]:
            for column in columns:
                value = getattr(row.model, column)
                if value is not None and not has_latin_letter(value):
                    yield english_text_problem(table, row, column, value)


def earlier_namesakes(scopes: Sequence[Hashable], keys: dict[str, list[str | None]]) -> Iterator[tuple[int, str, int]]:
    """Each row (by position) whose key in a column of ``keys`` an earlier row of its scope has in any column.

    Yields (row, the column of its key found earliest, the earliest row with it), in row order; a tie
    between columns goes to the first column of ``keys``.
    """
    first: dict[tuple[Hashable, str], int] = {}
    for position, scope in enumerate(scopes):
        found: tuple[int, str] | None = None
        for column, column_keys in keys.items():
            key = column_keys[position]
            earlier = None if key is None else first.get((scope, key))
            if earlier is not None and (found is None or earlier < found[0]):
                found = (earlier, column)
        if found is not None:
            yield position, found[1], found[0]
        for column_keys in keys.values():
            key = column_keys[position]
            if key is not None:
                first.setdefault((scope, key), position)


def _namesakes(
    rows: Rows, table: str, model: type[Organisation | Programme], scope: str, keyed: Callable[[Texts], pa.Array]
) -> Iterator[Problem]:
    """A warning for each row of ``table`` named (by ``keyed``) as an earlier one of its ``scope``, naming that one."""
    typed = list(typed_rows(rows[table], model))
    keys = {column: keyed([getattr(m, column) for _, m in typed]).to_pylist() for column in NAME_COLUMNS}
    for position, column, earlier in earlier_namesakes([getattr(m, scope) for _, m in typed], keys):
        (row, named), (first_row, first) = typed[position], typed[earlier]
        yield namesake_problem(table, row, named.id, column, getattr(named, column), first.id, first_row.line)


def check_organisation_names(rows: Rows) -> Iterator[Problem]:
    """One body, one id: an organisation named as an earlier one of its country is a warning naming that one."""
    return _namesakes(rows, "organisations", Organisation, "country_id", name_keys)


def check_programme_titles(rows: Rows) -> Iterator[Problem]:
    """One programme, one id: a programme titled as an earlier one beside it is a warning naming that one."""
    return _namesakes(rows, "programmes", Programme, "parent_id", title_keys)
