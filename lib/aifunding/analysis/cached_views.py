"""A package's prepared views kept in the cache of validated packages, beside its tables.

The dashboard prepares a package once (:func:`prepare_cached`): a restart or a second server process reads
the views back. A command that would not prepare a package for itself (an export joins only the columns it
writes) uses the views when they are there (:func:`kept_views`).
"""

from __future__ import annotations

import hashlib
from dataclasses import fields
from typing import Any

from aifunding.analysis.filters import Context
from aifunding.analysis.view import Prepared, prepare
from aifunding.analysis.view_awards import keep_with
from aifunding.loading.cache import PackageCache
from aifunding.loading.keys import source_digest
from aifunding.loading.package import Package
from aifunding.money.fx import rates_digest

# The code a prepared view depends on besides validation: the joins, the adding rule, the words of a
# project label ("(joint)") and of a name in each language.
PREPARING_SOURCES = ("analysis/*.py", "money/*.py", "i18n.py", "columns.py", "locale/*/LC_MESSAGES/*.po")
# Under this name in a package's cache entry.
PREPARED = "prepared"


def views_digest() -> str:
    """What a package's kept views depend on besides its content: the code of :data:`PREPARING_SOURCES`, and the
    ECB rates (a conversion's notes, kept with the views, quote them)."""
    return hashlib.sha256(f"{source_digest(*PREPARING_SOURCES)}/{rates_digest()}".encode()).hexdigest()


def prepare_cached(package: Package, cache: PackageCache | None, prepared: Prepared | None = None) -> Prepared:
    """:func:`~aifunding.analysis.view.prepare`, read back from ``cache`` when this code prepared the package before.

    A restart or a second server process then opens a large package in the time it takes to read it
    (a third of a second at 100,000 awards, against a second and a half to prepare it). ``prepared``: the package
    prepared already (as it was validated, beside its package rules), kept in the cache rather than prepared again.
    """
    if prepared is not None and prepared.package is not package:
        prepared = None
    if cache is None or package.cache_key is None:
        return prepared or prepare(package)

    def parts() -> dict[str, Any]:
        nonlocal prepared
        prepared = prepared or prepare(package)
        return {f.name: getattr(prepared, f.name) for f in fields(Prepared) if f.name not in ("package", "memo")}

    kept = cache.derived(package.cache_key, PREPARED, views_digest(), parts)
    return _prepared(package, cache, kept) or prepare(package)


def kept_views(package: Package, cache: PackageCache | None) -> Prepared | None:
    """The prepared views of ``package`` when ``cache`` holds them (this code prepared them), else None.

    Never prepares: reading a million awards' views back takes about a second, joining them several.
    """
    if cache is None or package.cache_key is None:
        return None
    return _prepared(package, cache, cache.kept(package.cache_key, PREPARED, views_digest()))


def _prepared(package: Package, cache: PackageCache, kept: Any) -> Prepared | None:
    """The package prepared from what the cache ``kept``, or None when that is not a prepared package's parts."""
    if not isinstance(kept, dict) or not isinstance(kept.get("context"), Context) or package.cache_key is None:
        return None
    key, digest = package.cache_key, views_digest()
    package.__dict__["tree"] = kept["context"].tree  # one tree for the package and its views
    prepared = Prepared(package, **kept)
    # The awards' codes and floats, worked out on a first view, are kept in the entry too.
    keep_with(prepared.awards, lambda name, build: cache.derived(key, name, digest, build))
    return prepared
