"""A rerun of a view already shown words none of its tables again (AppTest, bundled data).

A filter change, a language switch or a click elsewhere reruns the whole page; tables that do not
change with it (the Data page's chosen table, the Companies page's awards without an amount, the
Sources page's lists) are kept with the view or the package, not worded again on every rerun. The
wording functions are counted where the pages call them.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from test_app_pages import open_page

from aifunding import BUNDLED_DATA
from aifunding.figures import presentation


def counted(monkeypatch: pytest.MonkeyPatch, module: ModuleType, name: str) -> list[int]:
    """Each call of ``module.name`` from now on, as an item of the returned list."""
    calls: list[int] = []
    real: Callable[..., Any] = getattr(module, name)

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counting)
    return calls


@pytest.mark.parametrize(
    ("page", "query", "module", "name"),
    [
        ("companies", {}, presentation, "awards_table"),
        ("data", {}, presentation, "awards_table"),
        ("data", {"table": "programmes"}, presentation, "programmes_table"),
        ("data", {"table": "market_shares"}, presentation, "shares_table"),
        ("sources", {}, presentation, "sources_table"),
        ("sources", {}, presentation, "caveats_table"),
    ],
)
def test_a_rerun_of_the_same_view_words_no_table_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, page: str, query: dict[str, str], module: ModuleType, name: str
) -> None:
    # A copy of the bundled package is a package of its own: nothing worded for it is kept from another test.
    monkeypatch.setenv("AIFUNDING_DATA", str(shutil.copytree(BUNDLED_DATA, tmp_path / "data")))
    calls = counted(monkeypatch, module, name)
    at = open_page(page, **query)
    assert not at.exception
    first = len(calls)
    assert first > 0, f"{name} never worded the {page} page's table"
    at.run()
    at.run()
    assert not at.exception
    assert len(calls) == first, f"a rerun of the same view called {name} again"
