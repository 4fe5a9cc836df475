"""Every page under AppTest on every hostile package and link: no exception, no leak, no live markup.

Each page runs on each case of the corpus (through ``AIFUNDING_DATA``) and on a link whose every
parameter holds markup. Whatever happens, no exception reaches the page; nothing from a file outside
the package is shown; and every markdown element holds the hostile markup only escaped, so no link
or image to an outside host, no colour directive and no HTML can render.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from corpus import CASES, HOSTILE_HOST, build
from packages import shown

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "dashboard" / "app.py"
PAGES = ("overview", "companies", "programmes", "market", "world", "data", "sources")
LEAKS = ("root:x:0", "PATH=", "SECRET")
# Markup that renders when unescaped: a link or image to the hostile host, an image, a colour
# directive, raw HTML.
LIVE = (f"](https://{HOSTILE_HOST}", "![", ":red[", "<img", "<script")
MARKDOWN_ELEMENTS = ("markdown", "caption", "info", "warning", "error", "success", "title", "header", "subheader")
HOSTILE_LINK = {
    "cur": f"[text](https://{HOSTILE_HOST})",
    "lang": f"![x](https://{HOSTILE_HOST}/i.png)",
    "fx": ":red[alarm]",
    "country": "<img src=x onerror=alert(1)>",
    "from": "| a | b |",
    "present": "**bold**",
    "every": "2147484",
}


def unescaped(markdown: str, token: str) -> bool:
    """Whether ``token`` occurs in ``markdown`` with its first character not backslash-escaped."""
    for match in re.finditer(re.escape(token), markdown):
        backslashes = len(markdown[: match.start()]) - len(markdown[: match.start()].rstrip("\\"))
        if backslashes % 2 == 0:
            return True
    return False


def shown_markdown(at: AppTest) -> list[str]:
    """The markdown source of every element that renders markdown, metrics and expander labels included."""
    found = [e.value for kind in MARKDOWN_ELEMENTS for e in getattr(at, kind)]
    for metric in at.metric:
        found += [metric.label, metric.value, metric.proto.delta]
    found += [expander.label for expander in at.expander]
    return [str(text) for text in found if text]


def open_page(page: str, **query: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    for name, value in query.items():
        at.query_params[name] = value
    if page != "overview":
        at.switch_page(f"views/{page}.py")
    return at.run()


def check(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    texts = shown_markdown(at)
    for text in texts:
        for token in LIVE:
            assert not unescaped(text, token), f"live {token!r} in {text[:200]!r}"
    everything = "\n".join(texts + [d.value.to_string() for d in at.dataframe])
    for leak in LEAKS:
        assert leak not in everything


@pytest.fixture(scope="module")
def corpus_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("name", CASES)
def test_every_page_on_every_case(name: str, page: str, corpus_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if name == "awards-over-the-file-limit":
        monkeypatch.setenv("AIFUNDING_LIMIT_FILE_BYTES", "2000")
    folder = corpus_root / name
    if not folder.exists():
        build(name, corpus_root)
    monkeypatch.setenv("AIFUNDING_DATA", str(folder))
    at = open_page(page)
    check(at)
    assert str(corpus_root) not in "\n".join(shown_markdown(at)), "a server path was shown to viewers"


def test_a_package_that_never_loaded_gets_a_clear_page(corpus_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIFUNDING_DATA", str(build("descriptor-nested-100000", corpus_root / "never")))
    at = open_page("overview")
    assert not at.exception and not at.title
    [error] = at.error
    assert shown(error.value) == (
        "**The data package could not be loaded**: datapackage.json is nested too deeply (at most 32 levels)"
    )


def test_markup_in_the_data_is_shown_as_text(corpus_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIFUNDING_DATA", str(build("markup-everywhere", corpus_root / "text")))
    at = open_page("companies", org="org-a")
    check(at)
    # The organisation's name is in the filter sentence, escaped, and reads as written.
    sentence = at.info[0].value
    assert "Alpha Cloud \\[click me\\]\\(https\\:" in sentence
    assert f"to Alpha Cloud [click me](https://{HOSTILE_HOST}/phish)" in shown(sentence)
    at = open_page("companies")
    check(at)
    # The programme's name heads its own chart.
    assert any(shown(s.value).startswith(f"Round [click me](https://{HOSTILE_HOST}/phish)") for s in at.header)
    footer = next(m.value for m in at.markdown if "Sources" in m.value and "](https://example.org" in m.value)
    # The source's address is percent-encoded, so it cannot close the link and open another.
    assert "](https://example.org/a%29%5D%28https://elsewhere.invalid/x)" in footer


@pytest.mark.parametrize("page", PAGES)
def test_a_hostile_link_falls_back_with_an_escaped_notice(page: str) -> None:
    at = open_page(page, **HOSTILE_LINK)
    check(at)
    [notice] = [w.value for w in at.warning if "link could not be used" in w.value]
    for name in HOSTILE_LINK:
        assert f"{name}\\=" in notice or f"{name}\\:" in notice, name
    assert "seconds per slide must be a whole number from 5 to 3600" in notice
    assert at.selectbox(key="w_cur").value == "original"


def test_a_bad_link_is_explained_in_the_pages_language() -> None:
    """In Japanese, the notice gives each reason in Japanese too, values escaped as in English."""
    at = open_page("overview", lang="ja", cur="XYZ", every="2", table="**nope**", utm_source="mail")
    check(at)
    [notice] = [shown(w.value) for w in at.warning if "リンクの一部の設定" in shown(w.value)]
    assert "cur=XYZ：ECB参照レートにない通貨です" in notice
    assert "every=2：スライドごとの秒数は5から3600までの整数で指定してください" in notice
    assert "table=**nope**：データページの表ではありません" in notice
    assert "utm_source：このダッシュボードのパラメーターではありません" in notice
    assert "not a" not in notice and "write" not in notice


def test_the_data_page_never_hands_out_an_unread_table_as_empty(
    corpus_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIFUNDING_DATA", str(build("random-bytes-programmes", corpus_root / "unread")))
    at = open_page("data")
    check(at)
    assert not [b for b in at.get("download_button") if b.proto.id and "all-" in b.proto.id]
    assert any("the programmes table(s) could not be read" in shown(w.value) for w in at.warning)
    # The report lists why, with the file and line.
    assert any("programmes.csv" in str(d.value.to_string()) for d in at.dataframe)
