"""The view in the URL: encode a :class:`~aifunding.filters.ViewState` as query parameters and back.

Parameter names are a public interface (documented in the README) and never change meaning:

``lang``  en | ja
``cur``   ISO 4217 currency to convert to; absent for original currencies
``fx``    ``announcement`` (default) or a date YYYY-MM-DD for one fixed rate
``country``, ``programme``, ``org``, ``kind``  comma-separated ids
``from``, ``to``  announcement date range, YYYY-MM-DD

Decoding never raises: a value that is unknown, malformed or hostile falls back to the default for
that parameter, and the parameter is named in the returned notices so the page can say so.
"""

from __future__ import annotations

import datetime
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from aifunding.filters import ViewState
from aifunding.i18n import LANGUAGES

# Longer values are refused outright: no legitimate view needs them, and parsing them is work.
MAX_VALUE_LENGTH = 2000
MAX_LIST_ITEMS = 200

LIST_PARAMS = {"country": "countries", "programme": "programmes", "org": "organisations", "kind": "kinds"}
KNOWN_PARAMS = ("lang", "cur", "fx", *LIST_PARAMS, "from", "to", "present", "every")


@dataclass(frozen=True)
class Vocabulary:
    """What decoded values may be: the ids in the loaded package and the usable currencies and dates."""

    countries: Collection[str]
    programmes: Collection[str]
    organisations: Collection[str]
    kinds: Collection[str]
    currencies: Collection[str]
    first_rate_date: datetime.date
    last_rate_date: datetime.date


@dataclass
class Decoded:
    state: ViewState
    ignored: list[str] = field(default_factory=list)  # "param=value: why" lines for the notice
    extra: dict[str, str] = field(default_factory=dict)  # parameters other modules own (present, every)


def encode(state: ViewState, default: ViewState | None = None) -> dict[str, str]:
    """Query parameters for ``state``; values equal to the default are left out to keep links short."""
    default = default or ViewState()
    params: dict[str, str] = {}
    if state.lang != default.lang:
        params["lang"] = state.lang
    if state.currency:
        params["cur"] = state.currency
        if state.fx_at != "announcement":
            params["fx"] = state.fx_at
    for name, attribute in LIST_PARAMS.items():
        values = getattr(state, attribute)
        if values:
            params[name] = ",".join(values)
    if state.date_from:
        params["from"] = state.date_from.isoformat()
    if state.date_to:
        params["to"] = state.date_to.isoformat()
    return params


def _date(value: str) -> datetime.date | None:
    try:
        parsed = datetime.date.fromisoformat(value)
    except ValueError:
        return None
    return parsed if len(value) == 10 else None


def decode(params: Mapping[str, str | list[str]], vocabulary: Vocabulary) -> Decoded:
    """The view state a URL asks for, with every value it could not honour listed in ``ignored``."""
    state = ViewState()
    ignored: list[str] = []
    changes: dict[str, object] = {}
    extra: dict[str, str] = {}

    def value_of(name: str) -> str | None:
        raw = params.get(name)
        if raw is None or (isinstance(raw, list) and not raw):  # ?country with no value arrives as []
            return None
        text = raw[-1] if isinstance(raw, list) else raw
        if isinstance(raw, list) and len(raw) > 1:
            text = ",".join(raw)
        if len(text) > MAX_VALUE_LENGTH:
            ignored.append(f"{name}: the value is longer than {MAX_VALUE_LENGTH} characters")
            return None
        return text.strip()

    lang = value_of("lang")
    if lang:
        if lang in LANGUAGES:
            changes["lang"] = lang
        else:
            ignored.append(f"lang={lang}: use one of {', '.join(LANGUAGES)}")

    currency = value_of("cur")
    if currency:
        if currency.upper() in vocabulary.currencies:
            changes["currency"] = currency.upper()
        else:
            ignored.append(f"cur={currency}: not a currency in the ECB reference rates")

    fx = value_of("fx")
    if fx and fx != "announcement":
        day = _date(fx)
        if day is None:
            ignored.append(f"fx={fx}: write 'announcement' or a date YYYY-MM-DD")
        elif not vocabulary.first_rate_date <= day <= vocabulary.last_rate_date:
            ignored.append(f"fx={fx}: ECB rates run from {vocabulary.first_rate_date} to {vocabulary.last_rate_date}")
        elif "currency" not in changes:
            ignored.append(f"fx={fx}: a rate date needs a currency (cur)")
        else:
            changes["fx_at"] = day.isoformat()

    allowed = {
        "country": vocabulary.countries,
        "programme": vocabulary.programmes,
        "org": vocabulary.organisations,
        "kind": vocabulary.kinds,
    }
    for name, attribute in LIST_PARAMS.items():
        text = value_of(name)
        if not text:
            continue
        items = [item.strip() for item in text.split(",") if item.strip()]
        if len(items) > MAX_LIST_ITEMS:
            ignored.append(f"{name}: more than {MAX_LIST_ITEMS} values")
            continue
        known = tuple(dict.fromkeys(i for i in items if i in allowed[name]))
        unknown = [i for i in items if i not in allowed[name]]
        if unknown:
            shown = ", ".join(u[:40] for u in unknown[:5]) + (" …" if len(unknown) > 5 else "")
            ignored.append(f"{name}={shown}: not in the loaded data")
        if known:
            changes[attribute] = known

    for name, attribute in (("from", "date_from"), ("to", "date_to")):
        text = value_of(name)
        if not text:
            continue
        day = _date(text)
        if day is None or not 1990 <= day.year <= 2100:
            ignored.append(f"{name}={text[:40]}: write a date YYYY-MM-DD between 1990 and 2100")
        else:
            changes[attribute] = day
    if "date_from" in changes and "date_to" in changes and changes["date_from"] > changes["date_to"]:
        ignored.append("from/to: the start is after the end, so both were ignored")
        del changes["date_from"], changes["date_to"]

    for name in ("present", "every"):
        text = value_of(name)
        if text:
            extra[name] = text
    for name in params:
        if name not in KNOWN_PARAMS:
            ignored.append(f"{name[:40]}: not a parameter of this dashboard")
    return Decoded(state.with_(**changes), ignored, extra)
