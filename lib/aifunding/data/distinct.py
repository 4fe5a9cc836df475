"""A table's cells checked by column, once per distinct value, with the row model's own field validators.

A column of a million awards holds a few thousand distinct amounts, dates and codes: each is stripped
and validated once, and every row takes its result by index. The validator of a field is built from
its annotation and ``Field`` in the row model (pattern, range, enum, ``check_partial_date``,
``check_precision``) under the model's config, so the models stay the one definition of a valid cell.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import GenericAlias
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from aifunding.data.grid import whole


@dataclass(frozen=True)
class TextRule:
    """The whole check of a plain text field, as Arrow runs it over a column of cells at once.

    Read from the field's pydantic core schema: a ``str`` with at most a length range and a pattern of plain
    characters and classes (no escapes, no flags: Arrow's RE2 and pydantic's regex engine read those alike). Such a
    validator hands a valid cell back as it is, so a column of identifiers needs no Python call per value.
    """

    min_length: int | None
    max_length: int | None
    pattern: str | None

    @classmethod
    def of(cls, adapter: TypeAdapter[list[Any]], config: ConfigDict) -> TextRule | None:
        """The rule of ``adapter`` (a list of one field's cells) under ``config``; None when it does more."""
        if any(config.get(option) for option in _TEXT_CHANGING_OPTIONS):
            return None
        schema = adapter.core_schema
        if schema.get("type") != "list":
            return None
        item = schema["items_schema"]
        if item.get("type") == "nullable":  # an optional field: its empty cell is its default, never validated
            item = item["schema"]
        if item.get("type") != "str" or not set(item) <= _PLAIN_TEXT_KEYS or item.get("metadata"):
            return None
        pattern = item.get("pattern")
        if pattern is not None and (not _PLAIN_PATTERN.fullmatch(pattern) or "(?" in pattern):
            return None
        return cls(item.get("min_length"), item.get("max_length"), pattern)

    def accepts(self, cells: pa.Array) -> np.ndarray:
        """Per cell (stripped text), whether the field's validator accepts it."""
        ok = pa.array(np.ones(len(cells), dtype=bool))
        if self.min_length is not None or self.max_length is not None:
            length = pc.utf8_length(cells)  # characters, as len() counts them
            if self.min_length is not None:
                ok = pc.and_(ok, pc.greater_equal(length, self.min_length))
            if self.max_length is not None:
                ok = pc.and_(ok, pc.less_equal(length, self.max_length))
        if self.pattern is not None:
            ok = pc.and_(ok, pc.match_substring_regex(cells, self.pattern))  # a search, as pydantic's
        return ok.to_numpy(zero_copy_only=False)


# The keys a text field's core schema may hold and still be a TextRule; and the options that would change a cell.
_PLAIN_TEXT_KEYS = frozenset({"type", "min_length", "max_length", "pattern", "metadata"})
_TEXT_CHANGING_OPTIONS = ("str_to_lower", "str_to_upper", "str_min_length", "str_max_length", "coerce_numbers_to_str")
# Letters, digits, classes, groups, counts and anchors only (no flags: "(?" is refused too): what Arrow's RE2 and
# pydantic's Rust (or Python) regex engine read alike.
_PLAIN_PATTERN = re.compile(r"[A-Za-z0-9\[\]^$*+?{},|()-]*")


@dataclass(frozen=True)
class FieldCheck:
    """How one model field checks a cell: its validator (over a list of cells), and what an empty cell means.

    ``text`` is the field's :class:`TextRule` when it has one: its columns are checked by Arrow, not the validator.
    """

    name: str
    adapter: TypeAdapter[list[Any]]
    required: bool
    default: Any  # the value an empty cell of an optional field takes
    text: TextRule | None = None


@functools.cache
def field_checks(model: type[BaseModel]) -> tuple[FieldCheck, ...] | None:
    """A check per field of ``model``, in order; None when a field's value depends on more than its annotation.

    That is a field or "before"/"wrap" model validator, an alias, a validated default or a
    ``model_post_init``: none of which a row model uses today, and any of which a column of cells
    checked alone would miss.
    """
    decorators = model.__pydantic_decorators__
    config = model.model_config
    if (
        decorators.field_validators
        or decorators.validators
        or decorators.root_validators
        or any(d.info.mode != "after" for d in decorators.model_validators.values())
        or model.__pydantic_post_init__ is not None
        or config.get("validate_default")
    ):
        return None
    # Cells come here stripped by str.strip, as the per-row reader hands them to the model; pydantic's
    # own stripping removes less (a test checks every code point), so it never changes a cell here and
    # is left out: it would only copy every string, tripling the time a column of identifiers takes.
    cell_config = ConfigDict(**config)
    cell_config.pop("str_strip_whitespace", None)
    checks = []
    for name, info in model.model_fields.items():
        if info.alias is not None or info.validation_alias is not None or info.validate_default:
            return None
        annotation = GenericAlias(list, (info.rebuild_annotation(),))
        adapter: TypeAdapter[list[Any]] = TypeAdapter(annotation, config=cell_config)
        required = info.is_required()
        default = None if required else info.get_default(call_default_factory=True)
        checks.append(FieldCheck(name, adapter, required, default, TextRule.of(adapter, cell_config)))
    return tuple(checks)


@dataclass(frozen=True)
class Encoded:
    """One column of raw cells by distinct value: each row's index, and per distinct value its cleaned text.

    Cleaning is the per-row reader's: strip whitespace (pyarrow's ``utf8_trim_whitespace`` strips
    exactly what ``str.strip`` strips, which a test checks over every code point), and a blank cell
    becomes None.
    """

    indices: np.ndarray  # per row, into the distinct values (or the cells, for a column of plain text)
    text: pa.Array  # per distinct value, stripped
    blank: np.ndarray  # per distinct value

    def __len__(self) -> int:
        """How many distinct values the column holds."""
        return len(self.blank)

    @functools.cached_property
    def cleaned(self) -> np.ndarray:
        """Per distinct value, stripped (object: str, or None where blank); made when first asked for.

        A column a :class:`TextRule` checks may never need it: a million identifiers are a million Python strings.
        """
        cleaned = self.text.to_numpy(zero_copy_only=False)
        cleaned[self.blank] = None
        return cleaned

    def blank_rows(self) -> np.ndarray:
        # A row per cell taken by index only where some cell is blank: most columns have none.
        return self.blank[self.indices] if self.blank.any() else np.zeros(len(self.indices), dtype=bool)


def encode(raw: pa.ChunkedArray) -> Encoded:
    """The column ``raw`` (strings, no nulls, maybe dictionary-encoded) by distinct value, as it is encoded.

    A dictionary-encoded column must hold each distinct value once, as :func:`aifunding.data.grid.read_grid`
    reads them. A column of plain text is taken cell by cell (each its own entry, the same text maybe more than
    once): ``read_grid`` leaves a column so only where all but a few of its cells are distinct, and each entry is
    checked as a distinct value would be.
    """
    column = whole(raw)  # one chunk already (see grid.read_grid)
    if pa.types.is_dictionary(column.type):
        cells, indices = column.dictionary, column.indices.to_numpy(zero_copy_only=False)
    else:
        cells, indices = column, np.arange(len(column), dtype=np.int32)
    text = pc.utf8_trim_whitespace(cells)
    if pc.sum(pc.binary_length(text)).as_py() == pc.sum(pc.binary_length(cells)).as_py():
        text = cells  # nothing was stripped: the cells themselves, not a copy of them
    blank = pc.equal(pc.binary_length(text), 0).to_numpy(zero_copy_only=False)
    return Encoded(indices, text, blank)


@dataclass(frozen=True)
class Column:
    """One field's cells by distinct value: each row's code into ``values``, ``failed`` and ``present``.

    The last code stands for an empty cell: the field's default, or a failure when it is required.
    ``values`` holds validated values (Decimal, int, bool, enum member, str), None where one failed. A column
    a :class:`TextRule` checked (``cleaned``) has each valid value its cleaned cell, made when first asked for.
    """

    codes: np.ndarray
    given: np.ndarray | None  # object: the values, or None for a TextRule's column (its cells' text are they)
    failed: np.ndarray  # bool per code
    present: np.ndarray  # bool per code: the value is not None
    empty: Any = None  # the value an empty cell takes (the last code's)
    cells: Encoded | None = None  # a TextRule's column: the cells whose cleaned text its valid values are
    blanks: bool = True  # whether any row holds the last code (an empty cell)

    @property
    def cleaned(self) -> bool:
        """Whether each valid value is its cleaned cell itself (a column a TextRule checked)."""
        return self.cells is not None

    @functools.cached_property
    def values(self) -> np.ndarray:
        if self.given is not None:
            return self.given
        assert self.cells is not None
        values = np.empty(len(self.failed), dtype=object)
        values[:-1] = self.cells.cleaned  # None where blank already
        values[self.failed] = None
        values[-1] = self.empty
        return values

    def failed_rows(self) -> np.ndarray:
        # Each row's flag is taken by its code only where some code a row holds failed: in most columns none did.
        if not (self.failed if self.blanks else self.failed[:-1]).any():
            return np.zeros(len(self.codes), dtype=bool)
        return self.failed[self.codes]

    def present_rows(self) -> np.ndarray:
        if (self.present if self.blanks else self.present[:-1]).all():
            return np.ones(len(self.codes), dtype=bool)
        return self.present[self.codes]

    def where(self, test: Callable[[Any], bool]) -> np.ndarray:
        """Per row, ``test`` of its value (evaluated once per distinct value)."""
        hits = np.fromiter((bool(test(value)) for value in self.values), dtype=bool, count=len(self.values))
        return hits[self.codes]


def check_column(check: FieldCheck, encoded: Encoded | None, rows: int) -> Column:
    """The cells of one field checked once per distinct value; ``encoded`` is None for a column the header lacks."""
    if encoded is None:
        codes = np.zeros(rows, dtype=np.int32)
        return Column(
            codes,
            objects([check.default]),
            np.array([check.required]),
            np.array([check.default is not None]),
            check.default,
        )
    distinct = len(encoded)
    given = np.flatnonzero(~encoded.blank)
    everywhere = len(given) == distinct  # no blank cell (the usual case): no indirection through ``given``
    if check.text is not None:
        return _text_column(check, check.text, encoded, given, everywhere)
    parsed, bad = validate_each(check.adapter, (encoded.cleaned if everywhere else encoded.cleaned[given]).tolist())
    if everywhere:
        values, failed = objects([*parsed, check.default]), np.append(bad, check.required)
    else:
        values, failed = np.full(distinct + 1, None, dtype=object), np.zeros(distinct + 1, dtype=bool)
        values[given], failed[given] = objects(parsed), bad
        values[-1], failed[-1] = check.default, check.required
    return _column(check, encoded, values, failed)


def _text_column(check: FieldCheck, rule: TextRule, encoded: Encoded, given: np.ndarray, everywhere: bool) -> Column:
    """The cells of a text field checked by its ``rule`` in Arrow: each valid value is its cleaned cell."""
    failed = np.zeros(len(encoded) + 1, dtype=bool)
    failed[given] = ~rule.accepts(encoded.text if everywhere else encoded.text.take(pa.array(given)))
    failed[-1] = check.required
    return _column(check, encoded, None, failed, cells=encoded)


def _column(
    check: FieldCheck, encoded: Encoded, values: np.ndarray | None, failed: np.ndarray, cells: Encoded | None = None
) -> Column:
    """The field's column of ``values`` and ``failed`` flags (per distinct value, then for an empty cell)."""
    distinct = len(encoded)
    present = np.append(~encoded.blank & ~failed[:-1], check.default is not None)
    blanks = bool(encoded.blank.any())
    # Four bytes a row, as Arrow's dictionary indices (a million awards: 13 columns of codes); without a blank
    # cell, the indices themselves.
    codes = encoded.indices
    if blanks:
        codes = np.where(encoded.blank, distinct, np.arange(distinct, dtype=np.int32))[codes]
    return Column(codes, values, failed, present, check.default, cells, blanks)


def validate_each(adapter: TypeAdapter[list[Any]], cells: list[str]) -> tuple[list[Any], np.ndarray]:
    """Each cell validated (None where it failed), and which failed: one call, and one more per set of failures."""
    bad = np.zeros(len(cells), dtype=bool)
    try:
        return adapter.validate_python(cells), bad
    except ValidationError as exc:
        failing = {int(err["loc"][0]) for err in exc.errors(include_url=False, include_context=False)}
    bad[list(failing)] = True
    passing = np.flatnonzero(~bad)
    results, bad[passing] = validate_each(adapter, [cells[i] for i in passing])
    parsed: list[Any] = [None] * len(cells)
    for i, value in zip(passing.tolist(), results, strict=True):
        parsed[i] = value
    return parsed, bad


def objects(values: list[Any]) -> np.ndarray:
    """``values`` as a one-dimensional object array (numpy would unpack a value that is itself a sequence)."""
    return np.fromiter(values, dtype=object, count=len(values))
