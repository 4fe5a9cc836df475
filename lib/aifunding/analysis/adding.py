"""The one rule for adding money: what a total may add, and why every other row is left out.

Every total the dashboard, the export, the snapshot and ``aifunding summary`` show comes from
:meth:`AddingRule.total`. A row is *added* only when all of these hold, checked in this order; the
first that fails is the reason it is left out:

1. **scope**: it pays for what the total counts (a compute total adds AI compute; quantum computing
   and staff grants have their own kinds and leave it);
2. **status**: neither it nor a programme above it is shelved, cancelled or superseded;
3. **plans**: it is not a target or plan (``basis = target``), nor inside one that is only a plan
   when it has no figure of its own;
4. **budgets**: it is not a budget frame or a budget line inside one (money awarded from a budget is
   counted where it is awarded);
5. **confirmation**: no ``unconfirmed`` caveat is attached to it (scope disputed, or only
   low-reliability sources give the figure);
6. **nesting**: no figure above it is added: the outermost figure counts, the parts inside it
   never count again;
7. **amount**: it has a published amount, in the total's currency (or converted to it);
8. **overlaps**: no ``overlap`` caveat ties it to money already counted (the larger figure is
   kept, and the total says the other was counted once).

The sum is never one number across bases: :attr:`Total.by_basis` keeps exact money, "about"
figures, ceilings ("up to", "up to about") and floors ("at least") apart, so a ceiling can never
pass for money paid. Each total carries the span of announcement dates it adds, so a one-year
budget line and money from earlier years are not read as one year's figure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd

from aifunding import columns as C
from aifunding.data.tree import ProgrammeTree
from aifunding.data.vocabulary import NOT_COMMITTED_STATUSES, PLAN_BASES, Basis, CaveatKind, Level, SupportKind
from aifunding.i18n import translate

# Totals prefer this currency when no display currency is chosen: the dashboard's home market.
HOME_CURRENCY = "JPY"

# Basis -> the kind a total keeps apart. Ceilings add to a ceiling: "up to about" when any part was
# rounded, "up to" otherwise. Targets are never added.
BASIS_CLASSES: dict[str, str] = {
    Basis.EXACT: "exact",
    Basis.ABOUT: "about",
    Basis.UP_TO: "up_to",
    Basis.UP_TO_ABOUT: "up_to",
    Basis.AT_LEAST: "at_least",
}
CLASS_ORDER = ("exact", "about", "up_to", "up_to_about", "at_least")


def split_by_basis(pairs: Iterable[tuple[Any, Any]]) -> dict[str, Decimal]:
    """Sum (amount, basis) pairs per kind of basis, in writing order; targets and missing amounts add nothing.

    ``{"exact": 395.7bn, "up_to": 127.8bn}`` is written "¥395.7B + up to ¥127.8B", never one number.
    """
    sums: dict[str, Decimal] = {}
    rounded_ceiling = False
    for amount, basis in pairs:
        amount = _na(amount)
        if amount is None or basis not in BASIS_CLASSES:
            continue
        cls = BASIS_CLASSES[basis]
        rounded_ceiling = rounded_ceiling or basis == Basis.UP_TO_ABOUT
        sums[cls] = sums.get(cls, Decimal(0)) + (amount if isinstance(amount, Decimal) else Decimal(str(amount)))
    if rounded_ceiling:
        sums["up_to_about"] = sums.pop("up_to")
    return {cls: sums[cls] for cls in CLASS_ORDER if cls in sums}


@dataclass(frozen=True)
class Scope:
    """What a total counts: a key, and the kinds of support it adds."""

    key: str
    kinds: frozenset[str]


# The headline totals: money committed to AI models, and to AI compute.
SCOPES: dict[str, Scope] = {
    "models": Scope("models", frozenset({"model_development"})),
    "compute": Scope("compute", frozenset({SupportKind.COMPUTE_SUBSIDY.value, SupportKind.PUBLIC_COMPUTE.value})),
}


@dataclass(frozen=True)
class Entry:
    """One row a total considered: added (``reason`` None) or left out, and why."""

    id: str
    table: str  # "programmes" or "awards"
    name_en: str
    name_ja: str | None
    amount: Decimal | None  # in the total's currency
    currency: str | None
    basis: str | None
    announced: str | None
    reason: str | None = None
    detail: Mapping[str, str] = field(default_factory=dict)

    def reason_text(self, lang: str = "en") -> str:
        """Why the row was left out, in words ("" when it was added)."""
        if self.reason is None:
            return ""
        words = {k: v for k, v in self.detail.items() if not k.endswith("_ja")}
        if lang == "ja":
            words.update({k[: -len("_ja")]: v for k, v in self.detail.items() if k.endswith("_ja")})
        if "kind" in words:
            words["kind"] = translate(f"kind.{words['kind']}", lang)
        if "status" in words:
            words["status"] = translate(f"programme_status.{words['status']}", lang)
        return translate(f"adding.{self.reason}", lang, **words)


@dataclass(frozen=True)
class Total:
    """A total that knows what it added and what it left out."""

    key: str
    currency: str | None
    by_basis: Mapping[str, Decimal]
    included: tuple[Entry, ...]
    excluded: tuple[Entry, ...]

    @property
    def value(self) -> Decimal | None:
        """The total as one number, only when every figure it adds has the same kind of basis."""
        return next(iter(self.by_basis.values())) if len(self.by_basis) == 1 else None

    @property
    def counted_once(self) -> tuple[Entry, ...]:
        """Rows left out because they may be the same money as a row counted."""
        return tuple(e for e in self.excluded if e.reason in ("overlap", "overlap_inside"))

    @property
    def announced(self) -> tuple[str | None, str | None]:
        """The first and last announcement dates of the rows added."""
        dates = sorted(e.announced for e in self.included if e.announced)
        return (dates[0], dates[-1]) if dates else (None, None)

    @property
    def undated(self) -> int:
        return sum(1 for e in self.included if not e.announced)

    def as_dict(self, lang: str = "en") -> dict[str, Any]:
        """The JSON form ``aifunding summary`` prints: exact amounts as decimal strings."""
        result: dict[str, Any] = {"key": self.key, "currency": self.currency}
        if self.value is not None:
            result["value"] = _decimal_text(self.value)
            result["basis"] = next(iter(self.by_basis))
        else:
            result["by_basis"] = {basis: _decimal_text(v) for basis, v in self.by_basis.items()}
        first, last = self.announced
        result["announced"] = {"first": first, "last": last, "undated": self.undated}
        result["included"] = [e.id for e in self.included]
        result["excluded"] = [{"id": e.id, "reason": e.reason_text(lang), "rule": e.reason} for e in self.excluded]
        return result


def _decimal_text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _na(value: Any) -> Any:
    if value is None or (not isinstance(value, (str, Decimal, tuple, list)) and pd.isna(value)):
        return None
    return value


@dataclass(frozen=True)
class _Row:
    id: str
    table: str
    parent: str | None  # the programme above (for an award, its programme)
    kind: str | None
    scope_kinds: tuple[str | None, ...]  # its own kind and the kinds of the programmes above it (None: none given)
    level: str | None
    status: str | None
    basis: str | None
    value: Decimal | None
    currency: str | None
    fx_note: str | None
    announced: str | None
    name_en: str
    name_ja: str | None


class AddingRule:
    """The adding rule for one package: its programme tree, statuses and caveats, read once.

    Args:
        programmes: the package's programmes (every row, so a filtered view still sees the status
            and level of the programmes above the rows it shows).
        caveats: the package's caveats (id, kind).
        caveat_links: the package's caveat links.
    """

    def __init__(
        self,
        programmes: pd.DataFrame,
        caveats: pd.DataFrame,
        caveat_links: pd.DataFrame,
        tree: ProgrammeTree | None = None,
    ) -> None:
        self.tree = tree or ProgrammeTree.from_frame(programmes)
        self.level = dict(zip(programmes["id"], programmes["level"], strict=True))
        self.status = dict(zip(programmes["id"], programmes["status"], strict=True))
        self.kind = dict(zip(programmes["id"], programmes["kind"], strict=True))
        self.names = dict(zip(programmes["id"], programmes["name_en"], strict=True))
        self.names_ja = {
            i: n for i, n in zip(programmes["id"], programmes["name_ja"], strict=True) if isinstance(n, str) and n
        }
        kinds = dict(zip(caveats["id"], caveats["kind"], strict=True)) if "kind" in caveats else {}
        titles = dict(zip(caveats["id"], caveats["title_en"], strict=True)) if len(caveats) else {}
        self.unconfirmed: dict[str, str] = {}  # row id -> caveat id
        groups: dict[str, list[str]] = {}
        for row in caveat_links.itertuples(index=False):
            target = _na(row.programme_id) or _na(row.award_id)
            caveat_id = row.caveat_id
            kind = kinds.get(caveat_id)
            if target is None or kind is None or not isinstance(caveat_id, str):  # caveat ids are text
                continue
            if kind == CaveatKind.UNCONFIRMED:
                self.unconfirmed.setdefault(target, caveat_id)
            elif kind == CaveatKind.OVERLAP:
                groups.setdefault(caveat_id, []).append(target)
        self.caveat_titles = titles
        # Overlap caveat -> the rows it ties, and row -> the overlap caveats it is in (no pairs: a
        # caveat tied to many rows stays linear).
        self.overlap_groups: dict[str, list[str]] = {c: list(dict.fromkeys(m)) for c, m in groups.items()}
        self.overlaps_of: dict[str, list[str]] = {}
        for caveat_id, members in self.overlap_groups.items():
            for member in members:
                self.overlaps_of.setdefault(member, []).append(caveat_id)

    @classmethod
    def for_package(cls, package: Any) -> AddingRule:
        return cls(package.frame("programmes"), package.frame("caveats"), package.frame("caveat_links"), package.tree)

    def chain(self, programme_id: str | None) -> list[str]:
        """``programme_id`` and every programme above it, innermost first (the tree is acyclic)."""
        return self.tree.ancestors(programme_id) if programme_id is not None and programme_id in self.level else []

    # -- the rule ------------------------------------------------------------------------------

    def total(
        self,
        scope: Scope,
        programmes: pd.DataFrame,
        awards: pd.DataFrame,
        *,
        value_column: str = "amount",
        currency_column: str = "currency",
        currency: str | None = None,
    ) -> Total:
        """Add the rows of ``programmes`` and ``awards`` (a view's rows) that ``scope`` counts.

        ``value_column``/``currency_column`` name the amounts to add (converted ones when a display
        currency is chosen). ``currency`` fixes the total's currency; by default it is the home
        currency when any row can be added in it, otherwise the most common one.
        """
        rows = list(self._rows(programmes, awards, value_column, currency_column))
        candidates = [r for r in rows if scope.kinds & set(r.scope_kinds)]
        reasons: dict[str, tuple[str, dict[str, str]]] = {}
        for row in candidates:
            found = self._first_reason(row, scope)
            if found is not None:
                reasons[row.id] = found
        eligible = [r for r in candidates if r.id not in reasons]
        # Nesting: the outermost eligible figure with an amount counts; the parts inside it do not.
        with_amount = {r.id for r in eligible if r.value is not None}
        in_view = {r.id for r in rows}
        for row in eligible:
            outer = [p for p in self.chain(row.parent) if p in with_amount and p in in_view]
            if outer:
                reasons[row.id] = ("inside", {**self._named("other", outer[-1]), "other_id": outer[-1]})
        for row in eligible:
            if row.id in reasons:
                continue
            if row.value is None:
                reasons[row.id] = ("no_rate", {"note": row.fx_note}) if row.fx_note else ("no_amount", {})
        addable = [r for r in eligible if r.id not in reasons]
        total_currency = currency or _main_currency(r.currency for r in addable)
        for row in addable:
            if row.currency != total_currency:
                reasons[row.id] = ("currency", {"currency": str(row.currency), "total": str(total_currency)})
        counted = [r for r in addable if r.id not in reasons]
        self._count_overlaps_once(counted, reasons)
        added = [row for row in counted if row.id not in reasons]
        included = [_entry(row) for row in added]
        excluded = [_entry(row, *reasons[row.id]) for row in candidates if row.id in reasons]
        return Total(
            scope.key,
            total_currency,
            split_by_basis((row.value, row.basis) for row in added),
            tuple(included),
            tuple(excluded),
        )

    def _first_reason(self, row: _Row, scope: Scope) -> tuple[str, dict[str, str]] | None:
        if row.kind not in scope.kinds:
            return "scope", {"kind": str(row.kind)}
        above = self.chain(row.parent)
        if row.table == "programmes" and row.status in NOT_COMMITTED_STATUSES:
            return "status", {"status": str(row.status)}
        for pid in above:
            if self.status.get(pid) in NOT_COMMITTED_STATUSES:
                return "status_inside", {"status": str(self.status[pid]), **self._named("other", pid)}
        if row.basis in PLAN_BASES:
            return "plan", {}
        if row.level == Level.BUDGET_FRAME or (
            row.table == "programmes"
            and row.level == Level.COMPONENT
            and self.level.get(row.parent) == Level.BUDGET_FRAME
        ):
            return "budget", {}
        if row.id in self.unconfirmed:
            caveat = self.unconfirmed[row.id]
            return "unconfirmed", {"caveat": caveat, "title": str(self.caveat_titles.get(caveat, ""))}
        return None

    def _named(self, key: str, row_id: str) -> dict[str, str]:
        """A row's name for a reason, in English and (where the data has one) Japanese."""
        names = {key: str(self.names.get(row_id, row_id))}
        if row_id in self.names_ja:
            names[f"{key}_ja"] = self.names_ja[row_id]
        return names

    def _count_overlaps_once(self, counted: list[_Row], reasons: dict) -> None:
        """Of figures that may be the same money, keep the largest; the others say what they match.

        A figure matches one already counted, or one inside a figure already counted (the £1bn
        Compute Roadmap and the £1bn AIRR expansion inside the Action Plan's £2bn). Linear in the
        number of caveat links: each overlap caveat remembers the first counted figure that covers it.
        """
        # Each member of an overlap, by the counted row that holds it: itself, or the row it sits inside.
        holders = {row.id: row.id for row in counted}
        holders.update({row_id: detail["other_id"] for row_id, (code, detail) in reasons.items() if code == "inside"})
        held: dict[str, list[tuple[str, str]]] = {}  # counted row -> (member, caveat) it holds
        for caveat_id, members in self.overlap_groups.items():
            for member in members:
                if member in holders:
                    held.setdefault(holders[member], []).append((member, caveat_id))
        covered: dict[str, tuple[str, str]] = {}  # caveat -> (member, holder) counted first
        for row in sorted(counted, key=_largest_first):
            match = next(
                ((caveat, *covered[caveat]) for caveat in self.overlaps_of.get(row.id, ()) if caveat in covered),
                None,
            )
            if match is None:
                for member, caveat in held.get(row.id, ()):
                    covered.setdefault(caveat, (member, row.id))
                continue
            caveat, other, holder = match
            detail = {**self._named("other", other), "caveat": caveat}
            if holder != other:
                detail.update(self._named("holder", holder))
                reasons[row.id] = ("overlap_inside", detail)
            else:
                reasons[row.id] = ("overlap", detail)

    def _rows(
        self, programmes: pd.DataFrame, awards: pd.DataFrame, value_column: str, currency_column: str
    ) -> Iterable[_Row]:
        for table, frame in (("programmes", programmes), ("awards", awards)):
            if frame.empty:
                continue
            # Only the columns the rule reads: a view's frames carry forty, and to_dict pays for each.
            wanted = [c for c in (*_RULE_COLUMNS, value_column, currency_column) if c in frame.columns]
            for record in frame[list(dict.fromkeys(wanted))].to_dict("records"):
                pid = record["id"]
                parent = _na(record.get("parent_id")) if table == "programmes" else record["programme_id"]
                above = self.chain(parent)
                # An award's own kind when it has one (quantum computing paid from a compute programme).
                kind = _na(record.get("kind")) or self.kind.get(parent)
                value = _na(record.get(value_column))
                fx_note = _na(record.get(C.FX_NOTE))
                yield _Row(
                    id=pid,
                    table=table,
                    parent=parent,
                    kind=kind,
                    scope_kinds=(kind, *(self.kind[p] for p in above)),
                    level=record.get("level") if table == "programmes" else None,
                    status=_na(record.get("status")),
                    basis=_na(record.get("basis")),
                    value=Decimal(value) if value is not None else None,
                    currency=_na(record.get(currency_column)) if value is not None else None,
                    fx_note=fx_note if value is None and _na(record.get("amount")) is not None else None,
                    announced=_na(record.get("announced")),
                    name_en=str(record.get("name_en") or record.get(C.PROJECT_LABEL) or pid),
                    name_ja=_na(record.get("name_ja")) or _na(record.get(C.PROJECT_LABEL_JA)),
                )


# The columns of programmes and awards that the adding rule reads (besides the amount and currency shown).
_RULE_COLUMNS = (
    *("id", "parent_id", "programme_id", "kind", "level", "status", "basis", "amount", "announced"),
    *("name_en", "name_ja", C.FX_NOTE, C.PROJECT_LABEL, C.PROJECT_LABEL_JA),
)


def _main_currency(currencies: Iterable[str | None]) -> str | None:
    counts = Counter(c for c in currencies if c)
    if not counts:
        return None
    if HOME_CURRENCY in counts:
        return HOME_CURRENCY
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[0][0]


def _largest_first(row: _Row) -> tuple[Decimal, str]:
    """Sort key of counted rows: the largest value first, then by id (a counted row always has a value)."""
    if row.value is None:
        raise ValueError(f"row '{row.id}' has no value to count")
    return -row.value, row.id


def _entry(row: _Row, reason: str | None = None, detail: Mapping[str, str] | None = None) -> Entry:
    return Entry(
        row.id,
        row.table,
        row.name_en,
        row.name_ja,
        row.value,
        row.currency,
        row.basis,
        row.announced,
        reason,
        {k: v for k, v in (detail or {}).items() if k != "other_id"},
    )


__all__ = ["SCOPES", "AddingRule", "Entry", "Scope", "Total", "split_by_basis"]
