"""The one rule for adding money: what a total may add, and why every other row is left out.

Every total the dashboard, the export, the snapshot and ``aifunding summary`` show comes from
:meth:`AddingRule.total`. A row is *added* only when all of these hold, checked in this order; the
first that fails is the reason it is left out:

1. **scope**: it pays for what the total counts (a compute total adds AI compute; quantum computing,
   staff grants and general subsidies have their own kinds and leave it);
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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from aifunding.analysis.rule_rows import Rows, isin_objects, money_columns, read_rows
from aifunding.analysis.totals import Considered, Entry, Total, na, split_by_basis
from aifunding.data.tree import ProgrammeTree
from aifunding.data.vocabulary import NOT_COMMITTED_STATUSES, PLAN_BASES, CaveatKind, Level, SupportKind

# Totals prefer this currency when no display currency is chosen: the dashboard's home market.
HOME_CURRENCY = "JPY"


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
        # Each column made a list at once: a cell at a time, Arrow's columns took a third of a second for ten
        # thousand programmes.
        ids = programmes["id"].tolist()
        self.level = dict(zip(ids, programmes["level"].tolist(), strict=True))
        self.status = dict(zip(ids, programmes["status"].tolist(), strict=True))
        self.kind = dict(zip(ids, programmes["kind"].tolist(), strict=True))
        self.names = dict(zip(ids, programmes["name_en"].tolist(), strict=True))
        self.names_ja = {
            i: n for i, n in zip(ids, programmes["name_ja"].tolist(), strict=True) if isinstance(n, str) and n
        }
        kinds = dict(zip(caveats["id"], caveats["kind"], strict=True)) if "kind" in caveats else {}
        titles = dict(zip(caveats["id"], caveats["title_en"], strict=True)) if len(caveats) else {}
        self.unconfirmed: dict[str, str] = {}  # row id -> caveat id
        groups: dict[str, list[str]] = {}
        for row in caveat_links.itertuples(index=False):
            target = na(row.programme_id) or na(row.award_id)
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
        self._chain_kinds_cache: dict[str | None, frozenset[str]] = {}
        self._not_committed_cache: dict[str | None, str | None] = {}
        # The whole programmes and awards frames last read, and what the rule read of them.
        self._whole: tuple[pd.DataFrame, pd.DataFrame, Rows] | None = None
        self._names_cache: dict[tuple[str, str], dict[str, str]] = {}

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
        within: Selection | None = None,
    ) -> Total:
        """Add the rows of ``programmes`` and ``awards`` (a view's rows) that ``scope`` counts.

        ``value_column``/``currency_column`` name the amounts to add (converted ones when a display
        currency is chosen). ``currency`` fixes the total's currency; by default it is the home
        currency when any row can be added in it, otherwise the most common one. ``within`` says
        which rows of the package's whole frames the view's rows are: what the rule reads of a row
        is then read from the whole frames once and only picked out for each view.

        The rule runs by column: what depends on a row's programme (the kinds, statuses and levels
        above it, the figure it sits inside) is worked out once per programme, and an entry is made
        for a row the total names (added or left out) only when someone reads it.
        """
        rows = self._rows(programmes, awards, value_column, currency_column, within)
        return self._total(scope, rows, currency)

    def totals(
        self,
        scopes: Mapping[str, Scope],
        programmes: pd.DataFrame,
        awards: pd.DataFrame,
        *,
        value_column: str = "amount",
        currency_column: str = "currency",
        currency: str | None = None,
        within: Selection | None = None,
        awards_only: bool = False,
    ) -> dict[str, Total]:
        """:meth:`total` for each of ``scopes`` over the same rows, read from the view once.

        With ``awards_only`` (a view filtered to some organisations) no programme's declared amount is added: it
        holds awards to organisations the view leaves out. The awards in view are added instead, each programme
        left out with that reason (``filtered``).
        """
        rows = self._rows(programmes, awards, value_column, currency_column, within)
        return {key: self._total(scope, rows, currency, awards_only) for key, scope in scopes.items()}

    def _total(self, scope: Scope, rows: Rows, currency: str | None, awards_only: bool = False) -> Total:
        in_scope = rows.isin("kind", scope.kinds)
        # Whether a programme above a row is of the scope's kinds: once per package, taken for each view.
        above_in_scope = rows.derived(
            "above:" + ",".join(sorted(scope.kinds)),
            lambda r: r.per_parent(lambda p: bool(scope.kinds & self._chain_kinds(p))).astype(bool),
        )
        candidate = in_scope | above_in_scope
        # Each row's reason is set by whole columns; the words of a reason are made only for the rows
        # someone reads (an explanation lists them), by the maker registered for that reason.
        reason = np.full(len(rows), None, dtype=object)
        open_ = candidate.copy()  # candidates with no reason yet
        words: dict[str, Callable[[int], dict[str, str]]] = {}

        def leave_out(failed: np.ndarray, key: str, maker: Callable[[int], dict[str, str]]) -> None:
            hit = failed & open_
            reason[hit] = key
            open_[hit] = False
            words[key] = maker

        self._first_reasons(rows, in_scope, leave_out)
        if awards_only:
            leave_out(_is_programme(rows), "filtered", lambda i: {})
        values = rows["value"]
        has_value = rows.present("value")
        # Nesting: the outermost eligible figure with an amount counts; the parts inside it do not.
        # Only programmes have rows inside them, so only their ids are looked for above a row.
        with_amount = set(rows["id"][open_ & has_value & _is_programme(rows)].tolist())
        outermost = rows.per_parent(lambda p: next((q for q in reversed(self.chain(p)) if q in with_amount), None))
        inside = open_ & pd.notna(outermost)
        leave_out(inside, "inside", lambda i: self._named("other", outermost[i]))
        fx_notes = rows["fx_note"]
        leave_out(~has_value & rows.present("fx_note"), "no_rate", lambda i: {"note": fx_notes[i]})
        leave_out(~has_value, "no_amount", lambda i: {})
        currencies = rows["currency"]
        total_currency = currency or _main_currency(currencies[open_])
        leave_out(
            currencies != total_currency,
            "currency",
            lambda i: {"currency": str(currencies[i]), "total": str(total_currency)},
        )
        fixed: dict[int, dict[str, str]] = {}  # rows whose words were made while finding their reason
        self._count_overlaps_once(rows, open_, outermost, inside, reason, fixed)
        open_ &= pd.isna(reason)
        added = open_
        announced = pd.Series(rows["announced"][added], dtype=object).dropna()
        positions = np.flatnonzero(candidate)

        def details(picked: np.ndarray) -> list[Mapping[str, str]]:
            rows_picked = positions[picked]
            return [
                fixed[i] if i in fixed else (words[reason[i]](i) if reason[i] is not None else {})
                for i in rows_picked.tolist()
            ]

        return Total(
            scope.key,
            total_currency,
            split_by_basis(zip(values[added], rows["basis"][added], strict=True)),
            Considered(lambda picked: rows.entry_columns(positions[picked]), reason[candidate], details),
            (str(announced.min()), str(announced.max())) if len(announced) else (None, None),
            int(added.sum()) - len(announced),
        )

    def _not_committed_above(self, programme_id: str | None) -> str | None:
        """The first programme in ``programme_id``'s chain that is shelved, cancelled or superseded (kept)."""
        if programme_id not in self._not_committed_cache:
            self._not_committed_cache[programme_id] = next(
                (q for q in self.chain(programme_id) if self.status.get(q) in NOT_COMMITTED_STATUSES), None
            )
        return self._not_committed_cache[programme_id]

    def _chain_kinds(self, programme_id: str | None) -> frozenset[str]:
        kinds = self._chain_kinds_cache.get(programme_id)
        if kinds is None:
            kinds = self._chain_kinds_cache[programme_id] = frozenset(
                k for k in (self.kind.get(p) for p in self.chain(programme_id)) if isinstance(k, str)
            )
        return kinds

    def _first_reasons(
        self,
        rows: Rows,
        in_scope: np.ndarray,
        leave_out: Callable[[np.ndarray, str, Callable[[int], dict[str, str]]], None],
    ) -> None:
        """For each candidate row, the first of the row rules it fails: scope, status, plan, budget, unconfirmed."""
        ids = rows["id"]
        # Masks of the package's rows, the same whatever the scope and money: made once per package.
        is_programme = _is_programme(rows)
        statuses = rows["status"]
        status_above = rows.derived("status_above", self._status_above)
        kinds = rows["kind"]

        def status_inside(i: int) -> dict[str, str]:
            above = str(status_above[i])
            return {"status": str(self.status[above]), **self._named("other", above)}

        def unconfirmed_by(i: int) -> dict[str, str]:
            caveat = self.unconfirmed[str(ids[i])]
            return {"caveat": caveat, "title": str(self.caveat_titles.get(caveat, ""))}

        leave_out(~in_scope, "scope", lambda i: {"kind": str(kinds[i])})
        not_committed = rows.isin("status", NOT_COMMITTED_STATUSES)
        leave_out(is_programme & not_committed, "status", lambda i: {"status": str(statuses[i])})
        inside_not_committed = rows.derived(
            "inside_not_committed", lambda r: pd.notna(r.derived("status_above", self._status_above))
        )
        leave_out(inside_not_committed, "status_inside", status_inside)
        leave_out(rows.isin("basis", PLAN_BASES), "plan", lambda i: {})
        leave_out(rows.derived("budget", self._budget), "budget", lambda i: {})
        leave_out(rows.isin("id", self.unconfirmed), "unconfirmed", unconfirmed_by)

    def _status_above(self, rows: Rows) -> np.ndarray:
        """Each row's first programme above it that is shelved, cancelled or superseded (None: none)."""
        return rows.per_parent(self._not_committed_above)

    def _budget(self, rows: Rows) -> np.ndarray:
        """Budget frames, and the budget lines (components) of a programme right inside one."""
        levels = rows["level"]
        parent_is_frame = rows.per_parent(lambda p: self.level.get(p) == Level.BUDGET_FRAME).astype(bool)
        is_programme = rows["table"] == "programmes"
        return (levels == Level.BUDGET_FRAME) | (is_programme & (levels == Level.COMPONENT) & parent_is_frame)

    def _named(self, key: str, row_id: str) -> dict[str, str]:
        """A row's name for a reason, in English and (where the data has one) Japanese.

        Made once per row named and shared by every reason that names it (nothing changes them).
        """
        names = self._names_cache.get((key, row_id))
        if names is None:
            names = {key: str(self.names.get(row_id, row_id))}
            if row_id in self.names_ja:
                names[f"{key}_ja"] = self.names_ja[row_id]
            self._names_cache[(key, row_id)] = names
        return names

    def _count_overlaps_once(
        self,
        rows: Rows,
        counted: np.ndarray,
        outermost: np.ndarray,
        inside: np.ndarray,
        reason: np.ndarray,
        fixed: dict[int, dict[str, str]],
    ) -> None:
        """Of figures that may be the same money, keep the largest; the others say what they match.

        A figure matches one already counted, or one inside a figure already counted (the £1bn
        Compute Roadmap and the £1bn AIRR expansion inside the Action Plan's £2bn). Linear in the
        number of caveat links: each overlap caveat remembers the first counted figure that covers it.
        Only the rows an overlap caveat names (``counted`` marks the rows still counted), or that hold
        such a row inside them, take part.
        """
        if not self.overlaps_of:
            return
        ids = rows["id"]
        members = rows.isin("id", self.overlaps_of)
        # Each member of an overlap, by the counted row that holds it: itself, or the row it sits inside.
        holders = {ids[i]: ids[i] for i in np.flatnonzero(counted & members).tolist()}
        holders.update(zip(ids[inside & members], outermost[inside & members], strict=True))
        held: dict[str, list[tuple[str, str]]] = {}  # counted row -> (member, caveat) it holds
        for caveat_id, group in self.overlap_groups.items():
            for member in group:
                if member in holders:
                    held.setdefault(holders[member], []).append((member, caveat_id))
        values = rows["value"]
        taking_part = np.flatnonzero(counted & (members | isin_objects(ids, held))).tolist()
        covered: dict[str, tuple[str, str]] = {}  # caveat -> (member, holder) counted first
        for i in sorted(taking_part, key=lambda i: (-values[i], ids[i])):  # the largest first, then by id
            row_id = ids[i]
            match = next(
                ((caveat, *covered[caveat]) for caveat in self.overlaps_of.get(row_id, ()) if caveat in covered),
                None,
            )
            if match is None:
                for member, caveat in held.get(row_id, ()):
                    covered.setdefault(caveat, (member, row_id))
                continue
            caveat, other, holder = match
            found = {**self._named("other", other), "caveat": caveat}
            if holder != other:
                found.update(self._named("holder", holder))
                reason[i], fixed[i] = "overlap_inside", found
            else:
                reason[i], fixed[i] = "overlap", found

    def _rows(
        self,
        programmes: pd.DataFrame,
        awards: pd.DataFrame,
        value_column: str,
        currency_column: str,
        within: Selection | None,
    ) -> Rows:
        """What the rule reads of the view's rows: picked from the whole frames' rows when ``within`` says which."""
        if within is None or not within.matches(programmes, awards):
            return read_rows(programmes, awards, value_column, currency_column, self.kind)
        rows = self._whole_rows(within.programmes, within.awards).take(within.positions())
        if (value_column, currency_column) == ("amount", "currency"):
            return rows
        return rows.with_money(money_columns((programmes, awards), value_column, currency_column))

    def read_whole(self, programmes: pd.DataFrame, awards: pd.DataFrame) -> None:
        """Read the package's whole frames now (they are kept with the rule, and with it in the cache)."""
        self._whole_rows(programmes, awards)

    def _whole_rows(self, programmes: pd.DataFrame, awards: pd.DataFrame) -> Rows:
        """The rows of the package's whole frames, read once (in their published amounts) and kept.

        A million awards take seconds to read into arrays; every view after the first picks its rows
        out of these. One pair of frames is kept: a rule belongs to one prepared package.
        """
        kept = self._whole
        if kept is not None and kept[0] is programmes and kept[1] is awards:
            return kept[2]
        rows = read_rows(programmes, awards, "amount", "currency", self.kind)
        self._whole = (programmes, awards, rows)
        return rows


@dataclass(frozen=True)
class Selection:
    """Which rows of the package's whole frames a view shows: their positions, or None for every row in order."""

    programmes: pd.DataFrame
    awards: pd.DataFrame
    programme_rows: np.ndarray | None = None
    award_rows: np.ndarray | None = None

    def matches(self, programmes: pd.DataFrame, awards: pd.DataFrame) -> bool:
        """Whether the view's frames have as many rows as this selection picks (else they came from elsewhere)."""
        picked = (
            len(self.programmes) if self.programme_rows is None else len(self.programme_rows),
            len(self.awards) if self.award_rows is None else len(self.award_rows),
        )
        return picked == (len(programmes), len(awards))

    def positions(self) -> np.ndarray:
        """The picked rows' positions in the whole programmes followed by the whole awards."""
        n_programmes = len(self.programmes)
        programme_rows = np.arange(n_programmes) if self.programme_rows is None else self.programme_rows
        award_rows = np.arange(len(self.awards)) if self.award_rows is None else self.award_rows
        return np.concatenate([programme_rows, n_programmes + np.asarray(award_rows)]).astype(np.intp)


def _is_programme(rows: Rows) -> np.ndarray:
    """Which rows are programmes (not awards): once per package, taken for each view."""
    return rows.derived("is_programme", lambda r: r["table"] == "programmes")


# Why a row was left out: the reason's key and the words its message is filled with.
Reason = tuple[str, dict[str, str]]


def _main_currency(currencies: Iterable[str | None]) -> str | None:
    counts = Counter(c for c in currencies if c)
    if not counts:
        return None
    if HOME_CURRENCY in counts:
        return HOME_CURRENCY
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[0][0]


__all__ = ["SCOPES", "AddingRule", "Entry", "Scope", "Total", "split_by_basis"]
