"""The view in the URL: encode a :class:`~aifunding.analysis.view.ViewState` as query parameters and back.

Parameter names are a public interface (documented in the README) and never change meaning:

``lang``  en | ja
``cur``   ISO 4217 currency to convert to; absent for original currencies
``fx``    ``announcement`` (default) or a date YYYY-MM-DD for one fixed rate
``country``, ``programme``, ``org``, ``kind``  comma-separated ids
``from``, ``to``  announcement date range, YYYY-MM-DD
``present``, ``every``  presenter mode (``1``) and seconds per slide (5 to 3600)
``data``  the id of an uploaded package in the store (64 hex digits); absent for the served package
``live``, ``key``  a live session followed (its id), and the presenter's key that drives it

Decoding never raises: a value that is unknown, malformed or hostile falls back to the default for
that parameter, and the parameter is named in the returned notices so the page can say so; so is a
parameter given more than once (the last one is used).
"""

from __future__ import annotations

import datetime
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from aifunding.analysis.conversion import ANNOUNCEMENT
from aifunding.analysis.view import Prepared, ViewState
from aifunding.data.vocabulary import Level
from aifunding.i18n import LANGUAGES, translate
from aifunding.money.fx import rate_bounds, supported_currencies
from aifunding.store.base import is_blob_id
from aifunding.store.live import is_live_id, is_live_key

# Longer values are refused outright: no legitimate view needs them, and parsing them is work.
MAX_VALUE_LENGTH = 2000
MAX_LIST_ITEMS = 200

# Presenter mode's timer: no faster than one slide in 5 s (a reload every slide), no slower than an hour.
MIN_SLIDE_SECONDS = 5
MAX_SLIDE_SECONDS = 3600

LIST_PARAMS = {"country": "countries", "programme": "programmes", "org": "organisations", "kind": "kinds"}
# The Data page's tables, by the name a link gives (``table=``); the first is shown when a link names none.
DATA_TABLES = ("awards", "programmes", "market_shares", "recipients")
KNOWN_PARAMS = (
    *("lang", "cur", "fx", *LIST_PARAMS, "from", "to", "present", "every", "data", "live", "key", "table", "page"),
)
# The highest page of the Data page's table a link may name (a thousand rows a page: ten billion rows).
MAX_TABLE_PAGE = 10_000_000


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
    # Programmes' components: in the package, but not a choice of the programme filter (their programme is).
    components: Collection[str] = frozenset()


# Why a parameter was not used: a message key of the catalogues and its values ("cur=XYZ: not a currency ...").
Note = tuple[str, dict[str, object]]


@dataclass
class Decoded:
    state: ViewState
    notes: list[Note] = field(default_factory=list)  # each parameter not used, and why, for the notice
    # Parameters other modules own (present, every, data, live, key, table).
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def ignored(self) -> list[str]:
        """The notes in English, one "param=value: why" line each."""
        return worded(self.notes, "en")


def worded(notes: list[Note], lang: str) -> list[str]:
    """Each note as a line of the notice in ``lang`` (the values, from the link, are shown as given)."""
    return [translate(key, lang, **values) for key, values in notes]


def encode(state: ViewState, default: ViewState | None = None) -> dict[str, str]:
    """Query parameters for ``state``; values equal to the default are left out to keep links short."""
    default = default or ViewState()
    params: dict[str, str] = {}
    if state.lang != default.lang:
        params["lang"] = state.lang
    if state.currency:
        params["cur"] = state.currency
        if state.fx_at != ANNOUNCEMENT:
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
    """The view state a URL asks for, with every value it could not honour noted in ``notes``."""
    state = ViewState()
    ignored: list[Note] = []
    changes: dict[str, object] = {}
    extra: dict[str, str] = {}

    def value_of(name: str) -> str | None:
        raw = params.get(name)
        if raw is None or (isinstance(raw, list) and not raw):  # ?country with no value arrives as []
            return None
        text = raw[-1] if isinstance(raw, list) else raw
        if isinstance(raw, list) and len(raw) > 1:
            if name in LIST_PARAMS:  # ?country=JP&country=KR means both, as country=JP,KR does
                text = ",".join(raw)
            else:
                ignored.append(("url.given_twice", {"name": name, "times": len(raw), "value": text[:40]}))
        if len(text) > MAX_VALUE_LENGTH:
            ignored.append(("url.too_long", {"name": name, "limit": MAX_VALUE_LENGTH}))
            return None
        return text.strip()

    lang = value_of("lang")
    if lang:
        if lang in LANGUAGES:
            changes["lang"] = lang
        else:
            ignored.append(("url.lang", {"value": lang, "choices": ", ".join(LANGUAGES)}))

    currency = value_of("cur")
    if currency:
        if currency.upper() in vocabulary.currencies:
            changes["currency"] = currency.upper()
        else:
            ignored.append(("url.currency", {"value": currency}))

    fx = value_of("fx")
    if fx and fx != ANNOUNCEMENT:
        day = _date(fx)
        if day is None:
            ignored.append(("url.fx_format", {"value": fx}))
        elif not vocabulary.first_rate_date <= day <= vocabulary.last_rate_date:
            ignored.append(
                ("url.fx_range", {"value": fx, "first": vocabulary.first_rate_date, "last": vocabulary.last_rate_date})
            )
        elif "currency" not in changes:
            ignored.append(("url.fx_needs_currency", {"value": fx}))
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
            ignored.append(("url.too_many", {"name": name, "limit": MAX_LIST_ITEMS}))
            continue
        known = tuple(dict.fromkeys(i for i in items if i in allowed[name]))
        unknown = [i for i in items if i not in allowed[name]]
        if name == "programme" and (parts := [i for i in unknown if i in vocabulary.components]):
            # A component filtered nothing and the sidebar could not show it: the page said "0 awards", charted it,
            # and the first change of a filter dropped it unsaid.
            ignored.append(("url.component", {"value": ", ".join(p[:40] for p in parts[:5])}))
            unknown = [i for i in unknown if i not in vocabulary.components]
        if unknown:
            shown = ", ".join(u[:40] for u in unknown[:5]) + (" …" if len(unknown) > 5 else "")
            ignored.append(("url.not_in_data", {"name": name, "value": shown}))
        if known:
            changes[attribute] = known

    dates: dict[str, datetime.date] = {}
    for name, attribute in (("from", "date_from"), ("to", "date_to")):
        text = value_of(name)
        if not text:
            continue
        day = _date(text)
        if day is None or not 1990 <= day.year <= 2100:
            ignored.append(("url.date", {"name": name, "value": text[:40]}))
        else:
            dates[attribute] = day
    if "date_from" in dates and "date_to" in dates and dates["date_from"] > dates["date_to"]:
        ignored.append(("url.dates_reversed", {}))
    else:
        changes.update(dates)

    present = value_of("present")
    if present:
        if present == "1":
            extra["present"] = "1"
        else:
            ignored.append(("url.present", {"value": present[:40]}))
    every = value_of("every")
    if every:
        if every.isascii() and every.isdigit() and MIN_SLIDE_SECONDS <= int(every) <= MAX_SLIDE_SECONDS:
            if "present" in extra:
                extra["every"] = str(int(every))
            else:  # it stayed in the link, unsaid, doing nothing
                ignored.append(("url.every_needs_present", {"value": every[:40]}))
        else:
            ignored.append(("url.every", {"value": every[:40], "low": MIN_SLIDE_SECONDS, "high": MAX_SLIDE_SECONDS}))
    data = value_of("data")
    if data:
        if is_blob_id(data):
            extra["data"] = data
        else:
            ignored.append(("url.data", {"value": data[:40]}))
    live = value_of("live")
    if live:
        if is_live_id(live):
            extra["live"] = live
        else:
            ignored.append(("url.live", {"value": live[:40]}))
    key = value_of("key")
    if key:
        # Never echoed: a key with a slip in it is still most of a secret.
        if "live" not in extra:
            ignored.append(("url.key_needs_live", {}))
        elif is_live_key(key):
            extra["key"] = key
        else:
            ignored.append(("url.key", {}))
    table = value_of("table")
    if table:
        if table in DATA_TABLES[1:]:
            extra["table"] = table
        elif table != DATA_TABLES[0]:
            ignored.append(("url.table", {"value": table[:40], "choices": ", ".join(DATA_TABLES)}))
    page = value_of("page")
    if page:
        if page.isascii() and page.isdigit() and 1 <= int(page) <= MAX_TABLE_PAGE:
            if int(page) > 1:  # the first page is no parameter
                extra["page"] = str(int(page))
        else:
            ignored.append(("url.page", {"value": page[:40]}))
    for name in params:
        if name not in KNOWN_PARAMS:
            ignored.append(("url.unknown", {"name": name[:40]}))
    return Decoded(state.with_(**changes), ignored, extra)


def vocabulary(prepared: Prepared) -> Vocabulary:
    """The values a URL may name in this package: its ids, the ECB currencies and the dates of the rate table."""
    first_rate, last_rate = rate_bounds()
    components = (prepared.programmes["level"] == Level.COMPONENT.value).to_numpy(dtype=bool)
    return Vocabulary(
        countries=set(prepared.package.frame("countries")["id"]),
        programmes=set(prepared.programmes.loc[~components, "id"]),  # as the sidebar offers them
        organisations=set(prepared.context.programmes_by_org),  # every recipient of an award, gathered once
        kinds=set(prepared.programmes["kind"]),
        currencies=set(supported_currencies()) | {"EUR"},
        first_rate_date=first_rate,
        last_rate_date=last_rate,
        components=set(prepared.programmes.loc[components, "id"]),
    )


def view_file_name(name: str, state: ViewState, today: datetime.date | None = None, package: str = "ai-funding") -> str:
    """A file name that says which view it holds: the package, what it is, the view's parameters, and the day.

    ``name`` is a page's title key (``companies.title`` gives ``companies``) or a table's name; ``package``
    is the package's own name (an uploaded package's downloads are named after it, not after ours).
    """
    parts = [package or "ai-funding", name.split(".")[0] if name.endswith(".title") else name]
    parts += [value.replace(",", "+") for value in encode(state).values()]
    parts.append((today or datetime.date.today()).isoformat())
    text = "-".join(parts)
    return "".join(ch if ch.isalnum() or ch in "-+_" else "-" for ch in text)[:150]
