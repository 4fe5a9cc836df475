"""What a live session carries from its presenter to its followers: the page, the view, the slide, a chart.

A :class:`LiveView` is the presenter's page, the link parameters of their view (filters, currency and
conversion date, presenter mode, the uploaded package), presenter mode's slide and the chart they
spotlight. It leaves out what belongs to each viewer: the language (a Japanese viewer follows an
English presenter in Japanese), presenter mode's timer (followers follow the slide), and the live
session's own parameters. A follower's address is the presenter's parameters plus their own language
and the session's id; it is then decoded like any link (:func:`aifunding.analysis.urlstate.decode`), so
a view from a hostile presenter falls back with the usual notice, as a hostile link would.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from aifunding.analysis.urlstate import KNOWN_PARAMS, MAX_VALUE_LENGTH

# Each viewer's own: the language, presenter mode's timer, and the session's id and key.
OWN_PARAMS = ("lang", "every", "live", "key")
SHARED_PARAMS = tuple(name for name in KNOWN_PARAMS if name not in OWN_PARAMS)
# A chart's key as the registry makes it (``companies-by-recipient``, ``programme-jp-cloud-program``).
CHART_KEY = re.compile(r"[A-Za-z0-9_.-]{1,120}")
# Presenter mode counts slides back past the first too (-1 is the last), so a slide may be negative.
MAX_SLIDE = 10_000


@dataclass(frozen=True)
class LiveView:
    """One moment of a presentation, as followers take it."""

    page: str
    params: Mapping[str, str] = field(default_factory=dict)
    slide: int | None = None  # presenter mode's slide (only while presenting)
    spotlight: str | None = None  # the key of the chart the presenter points at

    @classmethod
    def of(
        cls, page: str, params: Mapping[str, str], slide: int | None = None, spotlight: str | None = None
    ) -> LiveView:
        """The live view of a page showing ``params`` (a link's parameters; each viewer's own are left out)."""
        shared = {name: value for name, value in params.items() if name in SHARED_PARAMS}
        return cls(page, dict(sorted(shared.items())), slide, spotlight)

    def state(self) -> dict[str, Any]:
        """As the store keeps it (JSON)."""
        return {"page": self.page, "params": dict(self.params), "slide": self.slide, "spotlight": self.spotlight}

    @classmethod
    def from_state(cls, state: Mapping[str, Any], pages: Collection[str]) -> LiveView | None:
        """The view a stored ``state`` describes, or None when it names no page of ``pages``.

        The record comes from whoever holds a key, so nothing in it is trusted: an unknown parameter, a value
        that is not short text, a slide that is not a small whole number or a chart key that could not be one is
        dropped here, and the parameters kept are decoded like any link's.
        """
        page = state.get("page")
        if not isinstance(page, str) or page not in pages:
            return None
        raw = state.get("params")
        params = {
            name: value
            for name, value in (raw.items() if isinstance(raw, Mapping) else ())
            if name in SHARED_PARAMS and isinstance(value, str) and len(value) <= MAX_VALUE_LENGTH
        }
        slide = state.get("slide")
        spotlight = state.get("spotlight")
        return cls(
            page,
            dict(sorted(params.items())),
            slide
            if isinstance(slide, int) and not isinstance(slide, bool) and -MAX_SLIDE <= slide <= MAX_SLIDE
            else None,
            spotlight if isinstance(spotlight, str) and CHART_KEY.fullmatch(spotlight) else None,
        )

    def follower_params(self, lang: str, live_id: str) -> dict[str, str]:
        """A follower's address: this view in the follower's own language (English, the default, is left out)."""
        own = {"lang": lang} if lang != "en" else {}
        return {**self.params, **own, "live": live_id}

    def without_spotlight(self) -> LiveView:
        return LiveView(self.page, self.params, self.slide, None)
