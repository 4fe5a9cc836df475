"""How a cache entry keeps a derived value (a prepared package's views): a pickle, its large parts beside it.

The value is pickled; its text columns, and the text of its large dicts and arrays of tuples, go to
an Arrow file beside the pickle (one record batch per column) and are read back from it: the text
columns memory-mapped, without a copy, the rest made by a few vector operations rather than one
unpickled object at a time. :meth:`~aifunding.loading.cache.PackageCache.derived` writes and reads
these files; like the report, the pickle runs code when read, so the cache folder must be writable
only by the server's user.
"""

from __future__ import annotations

import itertools
import pickle
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]

from aifunding.data.frames import TEXT
from aifunding.data.grid import whole
from aifunding.loading.collector import collector_paused

# Text columns of derived frames are kept beside the pickle as Arrow, one record batch per column, and
# read back memory-mapped: a million awards' joined views hold about a gigabyte of text, which unpickling
# copied (seconds); mapped, the pages read it from the file with no copy at all.
_TEXTS = pa.schema([("text", pa.large_string())])
# Dicts this long are kept in a compact form (below); a small one pickles as fast as it is.
COMPACT_FROM = 1000


class Pickler(pickle.Pickler):
    """A pickle whose large text-heavy parts are set aside in ``texts`` (Arrow columns, named by position).

    * text columns (pandas' Arrow-backed strings) are kept whole;
    * object arrays of tuples of text (each award's recipients, sources, caveats) as codes into their
      distinct tuples, which come back shared (a joint project's tuple is made once, not once per award);
      a frame's two-dimensional block of objects is kept row by row, so its columns of tuples are too;
    * dicts of text to text (display names) as their keys and values;
    * dicts of text to sets of text (each organisation's programmes) as keys, set sizes, and the codes
      of the members' distinct texts; they come back as a :class:`SetsByKey`, each set made when asked for.

    Unpickling a million tuples or a hundred thousand sets one object at a time took most of a second; read back
    from these, the same objects are made by a few vector operations. Anything else pickles as usual
    (the adding rule's rows keep their text this way themselves: :class:`~aifunding.analysis.rule_rows.Rows`).
    An object met twice is stored once and comes back as one object.

    The parts are found without a Python call per object: pickle asks :meth:`reducer_override` about arrays,
    frames' parts, this library's objects and the few other objects inside (Decimals among them), never about
    the millions of texts, tuples, whole numbers, floats and None. A persistent id, asked of every object,
    took half the time of keeping a million awards' views (5 s of about 10). Pickle never asks about a dict
    either, so large dicts are set aside where they are looked for: in the state of this library's objects
    and in the value dumped, two dicts deep; one met elsewhere (in a list, say) is pickled as it is.
    """

    def __init__(self, handle: IO[bytes], texts: list[pa.Array]) -> None:
        super().__init__(handle, protocol=pickle.HIGHEST_PROTOCOL)
        self.texts = texts
        self._aside: dict[int, tuple[dict[Any, Any], Any]] = {}  # id -> (dict, as pickled): the dict kept alive

    def dump(self, obj: Any, /) -> None:
        super().dump(self._dict_aside(obj))  # a dict given whole (a value's parts by name) is looked into too

    def reducer_override(self, obj: Any) -> Any:
        # Not asked of texts, tuples, lists, dicts, sets, numbers or None (pickle's own fast types), so the millions
        # of them inside a frame are pickled at C speed. A part set aside is memoised as any reduced object is:
        # met twice, it is stored once and comes back as one object.
        if type(obj) in _PLAIN:
            return NotImplemented
        reference = self._reference(obj)
        if reference is not None:
            return _made, (reference,)
        if type(obj).__module__.startswith("aifunding."):
            return self._with_dicts_aside(obj)
        return NotImplemented

    def _with_dicts_aside(self, obj: Any) -> Any:
        """How ``obj`` (one of this library's objects) pickles, with the large dicts of its state set aside.

        Pickle never asks about a dict itself, so the dicts are found where they are kept: in the state of the
        objects that hold them, or in a dict there (a name table per language), or in the value dumped.
        """
        reduced = obj.__reduce_ex__(pickle.HIGHEST_PROTOCOL)
        if not (isinstance(reduced, tuple) and len(reduced) >= 3 and type(reduced[2]) is dict):
            return NotImplemented
        return (*reduced[:2], {name: self._dict_aside(value) for name, value in reduced[2].items()}, *reduced[3:])

    def _dict_aside(self, value: Any, depth: int = 0) -> Any:
        """``value`` as pickled: a large dict set aside, a dict of dicts with theirs set aside, else itself.

        Once per dict: a dict met again (the English names, also the names of one language) is given as
        the same object, so it is stored once and comes back as one object.
        """
        if type(value) is not dict:
            return value
        aside = self._aside.get(id(value))
        if aside is None:
            reference = self._reference(value)
            if reference is not None:
                kept: Any = _SetAside(reference)
            elif depth < 2 and any(type(v) is dict for v in value.values()):
                kept = {key: self._dict_aside(v, depth + 1) for key, v in value.items()}
            else:
                kept = value
            aside = self._aside[id(value)] = (value, kept)
        return aside[1]

    def _reference(self, obj: Any) -> Any:
        if isinstance(obj, pd.arrays.ArrowStringArray) and obj.dtype == TEXT:
            arrow = pa.array(obj)  # pandas hands over its Arrow data without a copy
            joined = whole(arrow) if isinstance(arrow, pa.ChunkedArray) else arrow
            return ("text", self._text(joined))
        if _objects(obj) and obj.ndim == 2 and obj.shape[0] and obj.shape[1] >= COMPACT_FROM:
            return ("rows", list(obj))  # each row (a frame's column) is then met as an array of its own
        if _objects(obj) and obj.ndim == 1 and len(obj) >= COMPACT_FROM:
            values = obj.tolist()
            if _all_of(tuple, values) and _all_text(itertools.chain.from_iterable(values)):
                codes, distinct = pd.factorize(obj)
                return ("tuples", np.asarray(codes, dtype=np.int32), list(distinct))
        if type(obj) is SetsByKey and len(obj) >= COMPACT_FROM:
            keys, sizes, codes, distinct = obj.as_codes()
            # A missing id (an invalid package's) is not text: such sets are kept as a dict.
            if _all_text(keys) and _all_text(distinct):
                return ("sets", self._text(keys), sizes, np.asarray(codes, dtype=np.int32), self._text(distinct))
        if type(obj) is dict and len(obj) >= COMPACT_FROM and _all_text(obj.keys()):
            values = list(obj.values())
            if _all_text(values):
                return ("names", self._text(list(obj)), self._text(values))
            if _all_of(set, values) and _all_text(itertools.chain.from_iterable(values)):
                sizes = np.fromiter((len(v) for v in values), dtype=np.int32, count=len(values))
                codes, distinct = pd.factorize(np.fromiter(itertools.chain.from_iterable(values), dtype=object))
                return ("sets", self._text(list(obj)), sizes, np.asarray(codes, dtype=np.int32), self._text(distinct))
        return None

    def _text(self, values: Any) -> int:
        if not isinstance(values, pa.Array):
            values = pa.array(np.asarray(values, dtype=object), pa.large_string())
        self.texts.append(values.cast(pa.large_string()))
        return len(self.texts) - 1


# Types :meth:`Pickler._reference` never sets aside (it sets aside arrays, frames' parts and large dicts).
_PLAIN = frozenset((Decimal, str, tuple, int, float, bool, type(None), bytes))


class _SetAside:
    """A dict kept in a compact form, as its state holder pickles it (:meth:`Pickler._with_dicts_aside`)."""

    __slots__ = ("reference",)

    def __init__(self, reference: Any) -> None:
        self.reference = reference

    def __reduce__(self) -> tuple[Any, ...]:
        return _made, (self.reference,)


def _made(reference: Any) -> Any:
    """What a part set aside is reduced to: only :class:`Unpickler` makes it (from the Arrow file beside the pickle)."""
    raise pickle.UnpicklingError("a kept view's part set aside is read only by aifunding.loading.kept_views.Unpickler")


def _objects(obj: Any) -> bool:
    return isinstance(obj, np.ndarray) and obj.dtype == object


def _all_text(values: Iterable[Any]) -> bool:
    """Whether every value is a ``str``: what the compact forms keep exactly."""
    return _all_of(str, values)


def _all_of(kind: type, values: Iterable[Any]) -> bool:
    """Whether every value is exactly of type ``kind``: the types gathered in C (``map``), not tested in a loop."""
    return set(map(type, values)) <= {kind}


class Unpickler(pickle.Unpickler):
    """Reads what :class:`Pickler` wrote, mapping the text columns from their Arrow file."""

    def __init__(self, handle: IO[bytes], texts_path: Path) -> None:
        super().__init__(handle)
        self.texts_path = texts_path
        self.reader: Any = None

    def load(self) -> Any:
        """The value, read with Python's cycle collector paused, leaving no garbage for the collector.

        Unpickling a million awards' views makes millions of objects, and the collector went through the
        ones made so far again and again while they were made (0.2 of about a second): none can be garbage yet.
        The memo of what was read is emptied after: it holds this reader's own ``_make`` (how the parts set
        aside are made), so reader and memo were a cycle that only the collector freed, with everything the
        memo held (54,000 objects for a million awards' views, 0.07 s more of the next full pass).
        """
        try:
            with collector_paused():
                return super().load()
        finally:
            self.memo.clear()

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == (__name__, _made.__name__):
            return self._make
        return super().find_class(module, name)

    def _make(self, reference: Any) -> Any:
        kind = reference[0] if isinstance(reference, tuple) and reference else None
        if kind == "text" and len(reference) == 2:
            column = self._column(reference[1])
            return pd.arrays.ArrowStringArray(pa.chunked_array([column]), dtype=TEXT)  # type: ignore[call-arg]
        if kind == "names" and len(reference) == 3:
            return dict(zip(self._strings(reference[1]).tolist(), self._strings(reference[2]).tolist(), strict=True))
        if kind == "rows" and len(reference) == 2 and isinstance(reference[1], list) and reference[1]:
            block = np.empty((len(reference[1]), len(reference[1][0])), dtype=object)
            for at, row in enumerate(reference[1]):
                block[at] = row
            return block
        if kind == "tuples" and len(reference) == 3 and isinstance(reference[2], list):
            return _decoded(np.fromiter(reference[2], dtype=object, count=len(reference[2])), reference[1])
        if kind == "sets" and len(reference) == 5:
            return SetsByKey(
                self._strings(reference[1]).tolist(), reference[2], reference[3], self._strings(reference[4])
            )
        raise pickle.UnpicklingError(f"unknown reference in a cached view: {reference!r}")

    def _column(self, index: Any) -> pa.Array:
        if not isinstance(index, int):
            raise pickle.UnpicklingError(f"unknown reference in a cached view: {index!r}")
        if self.reader is None:
            self.reader = pa.ipc.open_file(pa.memory_map(str(self.texts_path)))
        return self.reader.get_batch(index).column(0)

    def _strings(self, index: Any) -> np.ndarray:
        return np.asarray(self._column(index).to_numpy(zero_copy_only=False), dtype=object)


class SetsByKey(Mapping[str, set[str]]):
    """A dict of text to sets of text held as codes: each set is made when it is asked for.

    Read-only. Each key's members are ``distinct[codes[...]]``, the keys' runs of ``codes`` back to back, ``sizes``
    long each. Making a hundred thousand organisations' sets of programmes took half a second of a million
    awards' preparation, and a third of a second on every restart; a page asks for the few a filter names.
    A cache keeps one as its codes (:class:`Pickler`).
    """

    def __init__(self, keys: list[str], sizes: Any, codes: Any, distinct: np.ndarray) -> None:
        ends = np.cumsum(sizes, dtype=np.int64) if isinstance(sizes, np.ndarray) else None
        if ends is None or len(ends) != len(keys) or (len(ends) and ends[-1] != len(codes)):
            raise pickle.UnpicklingError("the sets in a cached view do not match their members")
        self._position = dict(zip(keys, range(len(keys)), strict=True))
        self._ends = ends
        self._members = _decoded(distinct, codes)
        self._codes, self._distinct = codes, distinct

    def as_codes(self) -> tuple[list[str], np.ndarray, Any, np.ndarray]:
        """What it was made of: the keys, each one's set size, the members' codes back to back, the distinct members."""
        return list(self._position), np.diff(self._ends, prepend=0), self._codes, self._distinct

    def __getitem__(self, key: str) -> set[str]:
        at = self._position[key]
        start = int(self._ends[at - 1]) if at else 0
        return set(self._members[start : int(self._ends[at])].tolist())

    def __contains__(self, key: object) -> bool:
        return key in self._position

    def __iter__(self) -> Iterator[str]:
        return iter(self._position)

    def __len__(self) -> int:
        return len(self._position)

    def __reduce__(self) -> tuple[Any, ...]:
        return dict, (list(self.items()),)  # a copy elsewhere is a plain dict


def _decoded(distinct: np.ndarray, codes: Any) -> np.ndarray:
    """The object array of ``distinct[codes]``, None where a code is -1."""
    if not isinstance(codes, np.ndarray) or codes.dtype.kind != "i":
        raise pickle.UnpicklingError("codes in a cached view are not whole numbers")
    if len(codes) and (codes.min() < -1 or codes.max() >= len(distinct)):
        raise pickle.UnpicklingError("codes in a cached view name texts it does not hold")
    table = np.empty(len(distinct) + 1, dtype=object)  # its last item stays None, for code -1
    table[:-1] = distinct
    return table[codes]


def write_texts(texts: list[pa.Array], path: Path) -> None:
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, _TEXTS) as writer:
        for column in texts:
            writer.write_batch(pa.record_batch([column], schema=_TEXTS))
