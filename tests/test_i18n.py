"""The message catalog: every English message has a Japanese one with the same fields, and lookups fall back."""

from __future__ import annotations

import string

import pytest

from aifunding.i18n import CATALOG, DEFAULT_LANGUAGE, LANGUAGES, Translator, translate

EN = CATALOG["en"]


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


def test_missing_message_falls_back_to_english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(CATALOG["ja"], "page.overview")
    assert translate("page.overview", "ja") == "Overview"
    assert Translator("ja")("page.overview") == "Overview"
    # Other keys are still Japanese.
    assert translate("page.companies", "ja") == "企業別"


def test_unknown_language_reads_english() -> None:
    assert translate("page.overview", "fr") == translate("page.overview", DEFAULT_LANGUAGE) == "Overview"


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
