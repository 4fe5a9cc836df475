"""Text that is not ours, made safe for markdown: every value from a package or a link goes through here.

Streamlit renders markdown in ``st.markdown``, captions, alerts, headers, metric values and deltas,
widget labels and help. A package's names, a link's parameters or a validator message quoting a
value can hold markdown (a link, an outside image, a colour directive, a table, HTML), so they
are escaped before they are put into markdown: every ASCII punctuation character gets a
backslash (CommonMark lets any of them be escaped, and an escaped one is shown as itself), line
breaks become spaces, so no value can start a block of its own, and bare addresses get an
invisible word joiner, so they are not turned into links. Links are only built here, from a
label and an ``http``/``https`` address that is percent-encoded.
"""

from __future__ import annotations

import re
import string
from urllib.parse import quote, urlsplit

_ESCAPED = {ord(ch): "\\" + ch for ch in string.punctuation}
# Characters kept as they are in a link target: letters, digits and the URL delimiters that cannot
# close a markdown link or start markup. Everything else (spaces, ( ) < > [ ] " ' ` \ and
# non-ASCII) is percent-encoded.
_SAFE_IN_URL = "-._~:/?#@!$&*+,;=%"
ALLOWED_SCHEMES = ("http", "https")


# GitHub-flavoured markdown turns bare addresses into links after escapes are resolved, so an escape
# cannot stop it: an invisible word joiner inside "://", "www." and "@" breaks the pattern instead.
_WORD_JOINER = "\u2060"
_BARE_ADDRESS = re.compile(r"://|(?<![^\W_])www\.|@", re.IGNORECASE)


def text(value: object) -> str:
    """``value`` as markdown that shows exactly its characters, on one line, and never becomes a link."""
    line = " ".join(str(value).splitlines())
    line = _BARE_ADDRESS.sub(lambda m: m.group(0)[:-1] + _WORD_JOINER + m.group(0)[-1], line)
    return line.translate(_ESCAPED)


def safe_url(url: object) -> str | None:
    """``url`` percent-encoded for a markdown link target, or None unless it is an http(s) address with a host."""
    if not isinstance(url, str):
        return None
    candidate = url.strip()
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return None
    if parts.scheme.lower() not in ALLOWED_SCHEMES or not parts.netloc:
        return None
    return quote(candidate, safe=_SAFE_IN_URL)


def link(label: object, url: object) -> str:
    """A markdown link showing ``label`` as text; just the text when ``url`` is not a safe http(s) address."""
    target = safe_url(url)
    return f"[{text(label)}]({target})" if target else text(label)
