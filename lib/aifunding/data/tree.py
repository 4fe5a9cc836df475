"""The programme tree: budget frames hold programmes, programmes hold rounds, rounds hold components.

Built once from (id, parent_id) pairs. Every question asked of it costs time in proportion to the
answer (a subtree, a chain of ancestors), never to the square of the package: the validator
quarantines cycles and nesting deeper than :attr:`Limits.nesting` before a tree is built from
loaded rows, so a chain of ancestors is short.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aifunding.data.vocabulary import Level

# Levels that hold money for far more than AI programmes: a programme inside one is its own root.
FRAME_LEVELS = frozenset({Level.BUDGET_FRAME.value})


@dataclass(frozen=True)
class ProgrammeTree:
    """Parent and children of every programme id. A parent that is not in the tree is ignored."""

    parent: dict[str, str | None]
    children: dict[str, tuple[str, ...]] = field(default_factory=dict)
    level: dict[str, str] = field(default_factory=dict)
    # Each chain of ancestors, worked out once: the tree never changes, and totals ask for a chain per row.
    _chains: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_pairs(
        cls, pairs: Iterable[tuple[str, str | None]], levels: Iterable[tuple[str, str]] = ()
    ) -> ProgrammeTree:
        parent = {pid: (up if isinstance(up, str) and up else None) for pid, up in pairs}
        children: dict[str, list[str]] = {}
        for pid, up in parent.items():
            if up is not None and up in parent:
                children.setdefault(up, []).append(pid)
        return cls(parent, {k: tuple(v) for k, v in children.items()}, dict(levels))

    @classmethod
    def from_frame(cls, programmes: Any) -> ProgrammeTree:
        """The tree of a programmes frame (``id``, ``parent_id`` and, when present, ``level`` columns)."""
        ids = list(programmes["id"])
        levels = zip(ids, programmes["level"], strict=True) if "level" in programmes else ()
        return cls.from_pairs(zip(ids, programmes["parent_id"], strict=True), levels)

    def subtree(self, pid: str) -> set[str]:
        """``pid`` and every programme beneath it (just ``{pid}`` for an id the tree does not know)."""
        seen, stack = {pid}, [pid]
        while stack:
            for child in self.children.get(stack.pop(), ()):
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        return seen

    def subtrees(self, ids: Iterable[str]) -> set[str]:
        """The union of the subtrees of ``ids``."""
        result: set[str] = set()
        for pid in ids:
            if pid not in result:
                result |= self.subtree(pid)
        return result

    def ancestors(self, pid: str) -> list[str]:
        """``pid``, its parent, its grandparent... up to the top (stops on a cycle, which validation forbids)."""
        known = self._chains.get(pid)
        if known is None:
            chain, seen = [pid], {pid}
            while (up := self.parent.get(chain[-1])) is not None and up in self.parent and up not in seen:
                chain.append(up)
                seen.add(up)
            known = self._chains[pid] = tuple(chain)
        return list(known)

    def with_ancestors(self, ids: Iterable[str]) -> set[str]:
        """``ids`` and every programme above any of them; each programme is visited once."""
        result: set[str] = set()
        for pid in ids:
            current: str | None = pid
            while current is not None and current not in result:
                result.add(current)
                up = self.parent.get(current)
                current = up if up in self.parent else None
        return result

    def root(self, pid: str) -> str:
        """The top of ``pid``'s chain, stopping below a budget frame: a programme inside a frame is its own root."""
        chain = self.ancestors(pid)
        for index, up in enumerate(chain[1:], start=1):
            if self.level.get(up) in FRAME_LEVELS:
                return chain[index - 1]
        return chain[-1]

    def depth(self, pid: str) -> int:
        """How many programmes are above ``pid`` (0 at the top)."""
        return len(self.ancestors(pid)) - 1

    def ordered(self, ids: Iterable[str], key: Callable[[str], Any] = str) -> list[tuple[str, int]]:
        """``ids`` as an indented outline: each after its parent, siblings sorted by ``key``, with its depth.

        Only ``ids`` take part: a row whose parent is not among them starts a branch of its own at depth 0.
        """
        shown = list(dict.fromkeys(ids))
        members = set(shown)
        below: dict[str | None, list[str]] = {}
        for pid in shown:
            up = self.parent.get(pid)
            below.setdefault(up if up in members else None, []).append(pid)
        outline: list[tuple[str, int]] = []
        stack = [(pid, 0) for pid in reversed(sorted(below.get(None, []), key=key))]
        while stack:
            pid, depth = stack.pop()
            outline.append((pid, depth))
            stack.extend((child, depth + 1) for child in reversed(sorted(below.get(pid, []), key=key)))
        return outline
