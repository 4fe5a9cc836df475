"""How much of a package the validator will read: every size it honours, in one place.

Packages come from strangers (``AIFUNDING_DATA`` points anywhere, uploads come later), so every
dimension that costs time or memory has a ceiling and going over it is a clear problem, never a
crash or a runaway. Each limit can be changed with an environment variable, ``AIFUNDING_LIMIT_``
followed by the field name in capitals (``AIFUNDING_LIMIT_FILE_BYTES=800000000``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

ENV_PREFIX = "AIFUNDING_LIMIT_"
MB = 1024 * 1024
GB = 1024 * MB


class LimitsError(ValueError):
    """An environment variable sets a limit to something that is not a positive whole number."""


@dataclass(frozen=True)
class Limits:
    """Ceilings on what one package may hold: bounded, stated, and each above any real funding dataset.

    The defaults admit a package of a million awards (400 to 500 MB of CSV: awards.csv alone 120 to 380
    MB, award_recipients.csv with up to 2.6 million rows, citations.csv alike) with room to spare, and
    not much more. The bundled package is about 300 KB in 646 rows; validation holds roughly 20 to 25
    bytes of memory per byte of CSV (``benchmarks/validation_cost.py`` measures it), so the total bounds
    memory too: 8 to 12 GB for the million-award package, 20 to 25 GB at the package limit. A smaller
    machine lowers ``AIFUNDING_LIMIT_PACKAGE_BYTES``.
    """

    package_bytes: int = 1 * GB  # every file of the package together: 20 to 25 GB of memory to validate
    file_bytes: int = 512 * MB  # one CSV file (a million awards' awards.csv is 120 to 380 MB)
    descriptor_bytes: int = 1 * MB  # datapackage.json (ours is 40 KB)
    descriptor_depth: int = 32  # nesting of objects and lists in datapackage.json (ours is 7)
    rows: int = 10_000_000  # data lines in one table (a million awards have 2.6 million recipient rows)
    columns: int = 100  # header columns of one table (the widest table has 22)
    cell_chars: int = 10_000  # characters in one cell (the longest note is under 1,000)
    nesting: int = 16  # levels of programmes inside programmes (frame > programme > round > component is 4)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Limits:
        """The defaults, with any ``AIFUNDING_LIMIT_<NAME>`` variables applied.

        Raises:
            LimitsError: when a variable is not a positive whole number.
        """
        environ = os.environ if environ is None else environ
        changes: dict[str, int] = {}
        for item in fields(cls):
            name = ENV_PREFIX + item.name.upper()
            text = environ.get(name)
            if text is None or not text.strip():
                continue
            changes[item.name] = whole_setting(name, text.strip(), LimitsError)
        return replace(cls(), **changes)


def whole_setting(name: str, text: str, error: type[Exception]) -> int:
    """The setting ``name=text`` as a whole number of at least 1 (``_`` may group digits), or ``error`` saying why."""
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise error(f"{name}={text[:40]!r} is not a whole number") from None
    if value < 1:
        raise error(f"{name}={value} must be at least 1")
    return value


def describe_bytes(count: int) -> str:
    """A byte limit as people say it: 1 GB, 512 MB, 1 MB, 512 KB, 300 bytes."""
    if count >= GB and count % GB == 0:
        return f"{count // GB} GB"
    if count >= MB and count % MB == 0:
        return f"{count // MB} MB"
    if count >= 1024 and count % 1024 == 0:
        return f"{count // 1024} KB"
    return f"{count:,} bytes"
