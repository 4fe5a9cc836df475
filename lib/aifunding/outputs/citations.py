"""The sources and caveats of exported rows, spelled out: their ids, labels, links and titles, joined per row.

A row's ids come from its own tuples (:func:`add_citations`) or, for a million awards, straight from the link
tables as vectors (:func:`award_citations`); both write the same texts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from aifunding import columns as C
from aifunding.analysis.sequences import linked_lists
from aifunding.loading.package import Package


def joined(values: Any, lookup: dict[str, str] | None = None) -> str:
    """Ids (or their words in ``lookup``, where it has them) joined with "; ", as an export's cell holds them."""
    items = [lookup.get(v, v) if lookup else v for v in (values or ())]
    return "; ".join(str(i) for i in items)


@dataclass(frozen=True)
class Lookups:
    """Each source's label and link, and each caveat's title, by id."""

    source_label: dict[str, str]
    source_url: dict[str, str]
    caveat_title: dict[str, str]


def lookups_of(package: Package) -> Lookups:
    """The labels, links and titles of a package's sources and caveats."""
    sources = package.frame("sources")
    caveats = package.frame("caveats")
    labels = {
        sid: f"{pub} ({pubdate if isinstance(pubdate, str) else 'date not shown'}; {tier})"
        for sid, pub, pubdate, tier in zip(
            sources["id"], sources["publisher"], sources["published"], sources["tier"], strict=True
        )
    }
    return Lookups(
        labels,
        dict(zip(sources["id"], sources["url"], strict=True)),
        dict(zip(caveats["id"], caveats["title_en"], strict=True)),
    )


def add_citations(frame: pd.DataFrame, lookups: Lookups) -> pd.DataFrame:
    """A view's tuples of source and caveat ids joined, with their labels, links and titles beside them."""
    frame["sources"] = frame[C.SOURCE_IDS].map(lambda ids: joined(ids, lookups.source_label))
    frame["source_urls"] = frame[C.SOURCE_IDS].map(lambda ids: joined(ids, lookups.source_url))
    frame["caveats"] = frame[C.CAVEAT_IDS].map(lambda ids: joined(ids, lookups.caveat_title))
    frame[C.SOURCE_IDS] = frame[C.SOURCE_IDS].map(joined)
    frame[C.CAVEAT_IDS] = frame[C.CAVEAT_IDS].map(joined)
    return frame


def linked_texts(
    links: pd.DataFrame, target_column: str, value_column: str, ids: pd.Series, lookups: list[dict[str, str] | None]
) -> list[pd.Series] | None:
    """For each lookup, each row's linked values joined as :func:`joined` joins ``links_by_row``'s tuples.

    As vectors: the (row, value) pairs deduplicated keeping the first, grouped by row in a stable sort, each
    distinct list of values (:func:`list_codes`) worded and joined once in Arrow, and the texts spread to the
    rows by its code: one column of text made per lookup. None when a link has no value (an invalid
    package's), for the caller to take the tuple path.
    """
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.compute as pc  # type: ignore[import-untyped]

    linked = linked_lists(links[target_column], links[value_column])
    if linked is None:
        return None
    list_offsets = pa.array(linked.offsets.astype(np.int32))
    # A row with no links takes the text after the last distinct list's: nothing joined.
    where = pa.array(linked.list_of(ids))
    result = []
    for lookup in lookups:
        words = pa.array([str(lookup.get(v, v) if lookup else v) for v in linked.values.tolist()], type=pa.string())
        lists = pc.binary_join(pa.ListArray.from_arrays(list_offsets, words.take(pa.array(linked.picked))), "; ")
        # Large strings, as pandas keeps text: the rows' column is made once, in that type.
        texts = pa.concat_arrays([lists.cast(pa.large_string()), pa.array([""], type=pa.large_string())])
        result.append(pd.Series(pd.array(texts.take(where), dtype="str"), index=ids.index))
    return result


def award_citations(package: Package, ids: pd.Series, lookups: Lookups, table: str) -> dict[str, pd.Series] | None:
    """The columns :func:`add_citations` adds to awards with ``ids`` from one link table (``citations`` or
    ``caveat_links``), as vectors: None when a link has no value (an invalid package's).

    Made from the tables alone, so another thread can make them while the awards' other columns are joined.
    """
    if table == "citations":
        target, columns = "source_id", [C.SOURCE_IDS, "sources", "source_urls"]
        words = [None, lookups.source_label, lookups.source_url]
    else:
        target, columns, words = "caveat_id", [C.CAVEAT_IDS, "caveats"], [None, lookups.caveat_title]
    texts = linked_texts(package.frame(table), "award_id", target, ids, words)
    return None if texts is None else dict(zip(columns, texts, strict=True))
