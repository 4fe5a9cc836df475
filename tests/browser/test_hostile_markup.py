"""Hostile markup in the data and in the link, in a real browser: shown as text, nothing points outside.

A server serves the corpus's markup case (links, outside images, colour directives, HTML and a
markdown table in every text field the pages show) and every page is opened with a link whose
parameters hold markup too. No anchor, image, frame, script or stylesheet may point at the hostile
host, no script may run, and the markup must be readable as the text it is.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from conftest import OUTPUT, PAGES
from helpers import exceptions, open_page, screenshot
from serving import ROOT, free_port, port_of, start_server, stop_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hostile"))
from corpus import HOSTILE_HOST, build

HOSTILE_LINK = urlencode(
    {
        "cur": f"[text](https://{HOSTILE_HOST})",
        "lang": f"![x](https://{HOSTILE_HOST}/i.png)",
        "fx": ":red[alarm]",
        "org": "<img src=x onerror=alert(1)>",
    }
)
# Every element that can make the browser fetch or navigate somewhere, with the address it names.
REFERENCING = "a[href], img[src], iframe[src], script[src], link[href], source[src], video[src], object[data]"
OUTSIDE_REFERENCES = """([selector, host]) => Array.from(document.querySelectorAll(selector))
  .map(e => e.href || e.src || e.data || '')
  .filter(address => { try { return new URL(address, location.href).hostname === host; } catch { return false; } })"""


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = build("markup-everywhere", tmp_path_factory.mktemp("hostile"))
    process = start_server(
        ROOT / "dashboard" / "app.py",
        free_port(),
        OUTPUT.parent / "hostile-server.log",
        {"AIFUNDING_DATA": str(folder)},
    )
    yield f"http://127.0.0.1:{port_of(process)}"
    stop_server(process)


@pytest.mark.parametrize("name", PAGES)
def test_no_markup_from_data_or_link_renders(page, hostile_server, name) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    open_page(page, hostile_server, "" if name == "overview" else name, HOSTILE_LINK)
    assert exceptions(page) == []
    assert page.evaluate(OUTSIDE_REFERENCES, [REFERENCING, HOSTILE_HOST]) == []
    assert [url for url in requests if urlsplit(url).hostname == HOSTILE_HOST] == []
    assert dialogs == [], "a script from the data ran"
    # What a reader sees: the word joiners that keep bare addresses from becoming links are invisible.
    main = page.inner_text("[data-testid='stMain']").replace("\u2060", "")
    # The link's markup is named as text in the notice.
    assert f"cur=[text](https://{HOSTILE_HOST})" in main
    if name in ("companies", "overview", "programmes"):
        # The data's markup is readable as the text it is.
        assert f"[click me](https://{HOSTILE_HOST}/phish)" in main
    screenshot(page, OUTPUT / "hostile", name)
