"""One translation function for every user-visible string.

Pages, components and chart builders never hold English text: they call :func:`translate` (or a
:class:`Translator` bound to a language) with a message key. A missing Japanese string falls back
to English, so a language can be filled in gradually without touching any page.

The messages are gettext catalogues, one per language, in ``locale/<lang>/LC_MESSAGES/aifunding.po``
beside this module, with the template ``locale/aifunding.pot``. The msgid is the message key
(``app.title``), the msgstr its text; ``{name}`` fields are filled by :meth:`str.format`, and a
``one|many`` bar picks a side by ``n``. Babel reads a catalogue the first time its language is asked
for, so nothing is compiled at install time and importing this module reads no file.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType

LANGUAGES = ("en", "ja")
DEFAULT_LANGUAGE = "en"
# Each language named in itself, for the language switch.
LANGUAGE_NAMES = {"en": "English", "ja": "日本語"}

# The gettext domain, and where its catalogues live: LOCALE_DIR/<lang>/LC_MESSAGES/<DOMAIN>.po.
DOMAIN = "aifunding"
LOCALE_DIR = Path(__file__).resolve().with_name("locale")


def catalogue_path(lang: str) -> Path:
    """The PO catalogue of ``lang``."""
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def messages(lang: str) -> Mapping[str, str]:
    """The messages of ``lang``'s catalogue, key to text, read once through Babel.

    As gettext does, an untranslated (empty) or fuzzy entry is left out, so it falls back to English.

    Raises:
        FileNotFoundError: ``lang`` has no catalogue.
        babel.messages.pofile.PoFileError: The catalogue is malformed.
    """
    # Imported here: only the first lookup pays for Babel's PO reader.
    from babel.messages.pofile import read_po

    with catalogue_path(lang).open("rb") as po:
        catalog = read_po(po, domain=DOMAIN, abort_invalid=True)
    # Plural messages (msgid_plural) are not used: a "one|many" bar inside one message stands for them.
    return MappingProxyType(
        {
            m.id: m.string
            for m in catalog
            if isinstance(m.id, str) and isinstance(m.string, str) and m.id and m.string and not m.fuzzy
        }
    )


class _Catalogues(Mapping[str, Mapping[str, str]]):
    """Every language's messages, read-only and read on first use: ``CATALOG["ja"]["app.title"]``."""

    def __getitem__(self, lang: str) -> Mapping[str, str]:
        if lang not in LANGUAGES:
            raise KeyError(lang)
        return messages(lang)

    def __iter__(self) -> Iterator[str]:
        return iter(LANGUAGES)

    def __len__(self) -> int:
        return len(LANGUAGES)


CATALOG: Mapping[str, Mapping[str, str]] = _Catalogues()


def _plural(text: str, n: int | None) -> str:
    """Pick ``one|many`` by ``n``; text without a bar is returned as it is."""
    if "|" not in text or n is None:
        return text
    one, many = text.split("|", 1)
    return one if n == 1 else many


def translate(key: str, lang: str = DEFAULT_LANGUAGE, /, **values: object) -> str:
    """The text for ``key`` in ``lang`` (English when missing), with ``{name}`` fields filled.

    A key that exists in no language is a programming error, so it raises ``KeyError`` rather
    than showing the key to a user.
    """
    catalog = messages(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)
    text = catalog.get(key) or messages(DEFAULT_LANGUAGE)[key]
    n = values.get("n")
    if isinstance(n, int) and not isinstance(n, bool):
        text = _plural(text, n)
        values = {**values, "n": f"{n:,}"}  # a count reads 100,024 in both languages, not 100024
    else:
        text = _plural(text, None)
    return text.format(**values) if values else text


@dataclass(frozen=True)
class Translator:
    """:func:`translate` bound to one language: ``t = Translator("ja"); t("page.overview")``."""

    lang: str = DEFAULT_LANGUAGE

    def __call__(self, key: str, /, **values: object) -> str:
        return translate(key, self.lang, **values)
