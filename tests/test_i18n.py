"""The message catalogues: every English message has a Japanese one with the same fields, the PO files are
well formed and compile, and lookups fall back."""

from __future__ import annotations

import io
import re
import shutil
import string
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po, write_po

from aifunding import i18n
from aifunding.i18n import CATALOG, DEFAULT_LANGUAGE, LANGUAGES, Translator, translate

EN = CATALOG["en"]
TEMPLATE = i18n.LOCALE_DIR / f"{i18n.DOMAIN}.pot"
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def fields(text: str) -> set[str]:
    """The ``{placeholders}`` of a message, on both sides of a plural bar."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def plural_parts(text: str) -> int:
    return len(text.split("|"))


@pytest.mark.parametrize("key", sorted(EN))
def test_every_english_key_has_a_japanese_message(key: str) -> None:
    ja = CATALOG["ja"].get(key)
    assert ja, f"{key} has no Japanese message"
    assert fields(ja) == fields(EN[key]), key
    # A plural message keeps its "one|many" bar, so translate picks a side in both languages.
    assert plural_parts(ja) == plural_parts(EN[key]), key


def test_no_language_has_keys_that_english_lacks() -> None:
    for lang in LANGUAGES:
        assert set(CATALOG[lang]) <= set(EN), lang


def test_no_japanese_message_is_the_english_one_copied() -> None:
    assert [key for key, text in CATALOG["ja"].items() if text == EN[key]] == []


def test_japanese_calls_an_award_by_one_word() -> None:
    # An award is 採択 on every page; four messages said 交付 (the empty Companies view's "5件の交付" among them).
    assert [key for key, text in CATALOG["ja"].items() if "交付" in text] == []
    assert "採択" in CATALOG["ja"]["chart.recipient.no_amounts"]


@pytest.fixture
def fresh_catalogues() -> Iterator[None]:
    """Catalogues read anew in the test, and again after it (they are cached once read)."""
    i18n.messages.cache_clear()
    yield
    i18n.messages.cache_clear()


def test_missing_message_falls_back_to_english(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_catalogues: None
) -> None:
    # A Japanese catalogue being filled in: one message missing, one untranslated, one fuzzy.
    ja = read(i18n.catalogue_path("ja"))
    del ja["page.overview"]
    ja["page.market"].string = ""
    ja["page.world"].flags.add("fuzzy")
    for lang in LANGUAGES:
        path = tmp_path / lang / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
        path.parent.mkdir(parents=True)
        if lang == "ja":
            with path.open("wb") as po:
                write_po(po, ja)
        else:
            shutil.copy(i18n.catalogue_path(lang), path)
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    assert translate("page.overview", "ja") == "Overview"
    assert Translator("ja")("page.overview") == "Overview"
    # As gettext does, an empty or fuzzy translation is not used.
    assert translate("page.market", "ja") == "Cloud market"
    assert translate("page.world", "ja") == "World"
    # Other keys are still Japanese.
    assert translate("page.companies", "ja") == "企業別"


def test_unknown_language_reads_english() -> None:
    assert translate("page.overview", "fr") == translate("page.overview", DEFAULT_LANGUAGE) == "Overview"
    # CATALOG holds the catalogued languages only, read-only.
    assert list(CATALOG) == list(LANGUAGES) and len(CATALOG) == len(LANGUAGES)
    assert "fr" not in CATALOG
    with pytest.raises(TypeError):
        CATALOG["ja"]["page.overview"] = "changed"  # type: ignore[index]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_unknown_key_raises(lang: str) -> None:
    with pytest.raises(KeyError, match=r"no\.such\.key"):
        translate("no.such.key", lang)


@pytest.mark.parametrize(
    ("lang", "n", "expected"),
    [
        # English picks a side of the bar by n
        ("en", 1, "1 award"),
        ("en", 2, "2 awards"),
        ("en", 0, "0 awards"),
        # Japanese has one form on both sides
        ("ja", 1, "採択1件"),
        ("ja", 24, "採択24件"),
    ],
)
def test_plurals(lang: str, n: int, expected: str) -> None:
    assert translate("sentence.awards", lang, n=n) == expected


def test_placeholders_are_filled() -> None:
    assert translate("chart.hover.declared", "en", amount="up to ¥72.5B") == "Declared: up to ¥72.5B"
    assert translate("chart.hover.declared", "ja", amount="最大725億円") == "公表額：最大725億円"
    assert translate("timing.by", "ja", date="2027年度") == "2027年度まで"


# --- The PO files themselves -----------------------------------------------------------------------------

# A PO line outside comments: a keyword and one quoted string, or a continuation string.
PO_LINE = re.compile(r'^(?:(?:msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?) )?"(?:[^"\\]|\\.)*"$')


def read(path: Path) -> Catalog:
    with path.open("rb") as po:
        return read_po(po, abort_invalid=True)


def malformed_lines(path: Path) -> list[str]:
    """Lines Babel's lenient reader would let through: unterminated strings, stray words, bad escapes."""
    lines = path.read_text("utf-8").splitlines()
    return [
        f"{n}: {line}"
        for n, line in enumerate(lines, 1)
        if line and not line.startswith("#") and not PO_LINE.match(line)
    ]


def catalogue_files() -> list[Path]:
    return [i18n.catalogue_path(lang) for lang in LANGUAGES] + [TEMPLATE]


@pytest.mark.parametrize("path", catalogue_files(), ids=lambda p: p.parent.parent.name if p.suffix == ".po" else "pot")
def test_catalogue_is_well_formed(path: Path) -> None:
    assert malformed_lines(path) == []
    catalog = read(path)
    text = path.read_text("utf-8")
    # Babel keeps the last of two entries with one msgid; gettext's msgfmt rejects the file.
    assert len(re.findall(r'^msgid "', text, re.MULTILINE)) == len(catalog) + 1, "a msgid appears twice"
    assert catalog.mime_headers, "no header entry"
    headers = dict(catalog.mime_headers)
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert headers["Content-Transfer-Encoding"] == "8bit"
    for message in catalog:
        # Plurals use the bar convention within one message, never msgid_plural; no context.
        assert isinstance(message.id, str) and message.context is None, message.id
    # Babel's checkers (plural forms, python-format) find nothing, and the catalogue compiles.
    assert [(message.id, errors) for message, errors in catalog.check()] == []
    mo = io.BytesIO()
    write_mo(mo, catalog)
    assert mo.getvalue()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalogue_header_names_its_language(lang: str) -> None:
    catalog = read(i18n.catalogue_path(lang))
    assert str(catalog.locale) == lang
    assert dict(catalog.mime_headers)["Plural-Forms"] == catalog.plural_forms
    assert not catalog.fuzzy, "the header is marked fuzzy"
    # A fuzzy or untranslated entry would silently show English.
    assert [m.id for m in catalog if m.id and (m.fuzzy or not m.string)] == []


def test_every_catalogue_folder_is_a_language() -> None:
    folders = {path.parent.parent.name for path in i18n.LOCALE_DIR.glob(f"*/LC_MESSAGES/{i18n.DOMAIN}.po")}
    assert folders == set(LANGUAGES)


def test_template_lists_every_key_untranslated() -> None:
    template = read(TEMPLATE)
    assert [m.id for m in template if m.id] == list(EN)
    assert [m.id for m in template if m.id and m.string] == []


def test_the_checks_catch_a_malformed_catalogue(tmp_path: Path) -> None:
    broken = tmp_path / "broken.po"
    broken.write_text('msgid "a"\nmsgstr "unterminated\n\nmsgid "b"\nmsgstr "x"\nstray words\n', "utf-8")
    assert malformed_lines(broken) == ['2: msgstr "unterminated', "6: stray words"]
    with pytest.raises(PoFileError):
        read(broken)


def test_a_malformed_catalogue_fails_loudly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_catalogues: None
) -> None:
    path = tmp_path / "ja" / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
    path.parent.mkdir(parents=True)
    path.write_text('msgid "page.overview"\nmsgstr "概要"\nmsgid "page.market"\n', "utf-8")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    with pytest.raises(PoFileError):
        translate("page.overview", "ja")


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="GNU gettext's msgfmt is not installed")
@pytest.mark.parametrize("lang", LANGUAGES)
def test_gnu_msgfmt_accepts_the_catalogue(lang: str) -> None:
    result = subprocess.run(
        ["msgfmt", "--check", "-o", "-", str(i18n.catalogue_path(lang))], capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stderr.decode()


def test_catalogues_are_package_data() -> None:
    # A wheel or a non-editable install carries exactly what [tool.setuptools.package-data] names.
    patterns = tomllib.loads(PYPROJECT.read_text("utf-8"))["tool"]["setuptools"]["package-data"]["aifunding"]
    package = i18n.LOCALE_DIR.parent
    shipped = {path for pattern in patterns for path in package.glob(pattern)}
    assert set(catalogue_files()) <= shipped
