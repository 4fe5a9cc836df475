"""A generated package of 100,000 awards: it validates, and every page opens small under AppTest.

Marked ``slow`` (about a minute); CI runs it with the rest. Timings are the benchmark's business
(``benchmarks/scale.py``); this checks what must hold at any size: every page runs without an error,
no chart spec is over 1 MB and no page over about 2 MB of them, no table sends more than a page of
rows, a filter of thousands of names is a search, and a filter change reruns cleanly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from aifunding.figures.registry import PAGES
from aifunding.loading.package import Package, load_package

from packages import generate

pytestmark = pytest.mark.slow

AWARDS = 100_000
APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
MAX_SPEC_BYTES = 1_000_000
MAX_PAGE_SPEC_BYTES = 2_000_000
PAGE_ROWS = 1000


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("scale") / "package"
    generate(AWARDS, folder, seed=11)
    return folder


def test_a_large_generated_package_validates_whole(large: Path, bundled: Package) -> None:
    package = load_package(large)
    report = package.report
    assert report.valid, [p.as_text() for p in report.errors[:5]]
    assert not report.quarantined and not report.unchecked
    assert len(package.frame("awards")) == AWARDS + len(bundled.frame("awards"))  # grown from the bundled one
    assert report.rows_loaded == report.rows_read


@pytest.mark.parametrize("page", [page.key for page in PAGES])
def test_every_page_of_a_large_package_stays_small(large: Path, page: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIFUNDING_DATA", str(large))
    at = AppTest.from_file(str(APP), default_timeout=300)
    if page != "overview":
        at.switch_page(f"views/{page}.py")
    at.run()
    assert not at.exception, at.exception
    specs = [chart.proto.spec for chart in at.get("plotly_chart")]
    assert all(len(spec) < MAX_SPEC_BYTES for spec in specs), max(map(len, specs))
    assert sum(map(len, specs)) < MAX_PAGE_SPEC_BYTES
    assert all(len(frame.value) <= PAGE_ROWS for frame in at.dataframe)
    assert all(json.loads(spec)["data"] for spec in specs)  # every chart drew something
    organisations = at.sidebar.multiselect(key="w_org")
    assert len(organisations.options) <= PAGE_ROWS  # thousands of names: a search box offers the matches
    at.multiselect(key="w_country").set_value(["JP"]).run()
    assert not at.exception, at.exception
    assert at.query_params.get("country") == "JP"


def test_the_recipients_totals_of_a_large_package_page_on_the_server(
    large: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tens of thousands of recipients, added up by the analytical engine: a page of them is sent, never all."""
    monkeypatch.setenv("AIFUNDING_DATA", str(large))
    at = AppTest.from_file(str(APP), default_timeout=300)
    at.switch_page("views/data.py")
    at.run()
    next(w for w in at.get("button_group") if w.key == "table").set_value("recipients").run()
    assert not at.exception, at.exception
    shown = [frame.value for frame in at.dataframe if "Total, kept apart by basis" in frame.value.columns]
    assert len(shown) == 1 and len(shown[0]) == PAGE_ROWS
    pages = at.number_input(key="rows-page")
    assert pages.max > 10  # thousands of recipients, a thousand to a page
    at.multiselect(key="w_country").set_value(["JP"]).run()
    assert not at.exception, at.exception
    japan = next(frame.value for frame in at.dataframe if "Total, kept apart by basis" in frame.value.columns)
    assert set(japan["Currency"].dropna()) == {"JPY"}
