"""The programme tree: budget frames hold programmes, programmes hold rounds, rounds hold components.

Built once from (id, parent_id) pairs. Every question asked of it costs time in proportion to the
answer (a subtree, a chain of ancestors), never to the square of the package: the validator
quarantines cycles and nesting deeper than :attr:`Limits.nesting` before a tree is built from
loaded rows, so a chain of ancestors is short.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProgrammeTree:
    """Parent and children of every programme id. A parent that is not in the tree is ignored."""

    parent: dict[str, str | None]
    children: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str | None]]) -> ProgrammeTree:
        parent = {pid: (up if isinstance(up, str) and up else None) for pid, up in pairs}
        children: dict[str, list[str]] = {}
        for pid, up in parent.items():
            if up is not None and up in parent:
                children.setdefault(up, []).append(pid)
        return cls(parent, {k: tuple(v) for k, v in children.items()})

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
        chain, seen = [pid], {pid}
        while (up := self.parent.get(chain[-1])) is not None and up in self.parent and up not in seen:
            chain.append(up)
            seen.add(up)
        return chain

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
