"""How much of a package the validator will read: every size it honours, in one place.

Packages come from strangers (``AIFUNDING_DATA`` points anywhere, uploads come later), so every
dimension that costs time or memory has a ceiling and going over it is a clear problem, never a
crash or a runaway. Each limit can be changed with an environment variable, ``AIFUNDING_LIMIT_``
followed by the field name in capitals (``AIFUNDING_LIMIT_FILE_BYTES=500000000``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

ENV_PREFIX = "AIFUNDING_LIMIT_"
MB = 1024 * 1024


class LimitsError(ValueError):
    """An environment variable sets a limit to something that is not a positive whole number."""


@dataclass(frozen=True)
class Limits:
    """Ceilings on what one package may hold. The defaults are far above any real funding dataset.

    The bundled package is about 300 KB in 646 rows; validation holds roughly 20 to 25 bytes of memory per
    byte of CSV (``benchmarks/validation_cost.py`` measures it), so the total bounds memory too.
    """

    package_bytes: int = 100 * MB  # every file of the package together: about 2 GB of memory to validate
    file_bytes: int = 100 * MB  # one CSV file
    descriptor_bytes: int = 1 * MB  # datapackage.json (ours is 40 KB)
    descriptor_depth: int = 32  # nesting of objects and lists in datapackage.json (ours is 7)
    rows: int = 1_000_000  # data lines in one table
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
            try:
                value = int(text.strip().replace("_", ""))
            except ValueError:
                raise LimitsError(f"{name}={text[:40]!r} is not a whole number") from None
            if value < 1:
                raise LimitsError(f"{name}={value} must be at least 1")
            changes[item.name] = value
        return replace(cls(), **changes)


def describe_bytes(count: int) -> str:
    """A byte limit as people say it: 100 MB, 1 MB, 512 KB, 300 bytes."""
    if count >= MB and count % MB == 0:
        return f"{count // MB} MB"
    if count >= 1024 and count % 1024 == 0:
        return f"{count // 1024} KB"
    return f"{count:,} bytes"
