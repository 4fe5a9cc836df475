"""What names a cache entry (:mod:`aifunding.loading.cache`): a package's content and the code that validates it.

A package's files are hashed in blocks, two at a time: hashlib lets go of Python's lock while it hashes, so half a
gigabyte of a million awards is keyed in about half the time one thread takes.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from functools import cache
from pathlib import Path
from typing import Any

from aifunding import __version__
from aifunding.data.limits import Limits

# Bump when the layout of an entry changes; the code digest covers changes in validation itself.
# 2: tables as Arrow files rather than Parquet. 3: kept values' parts set aside by reduction, not persistent ids.
FORMAT = 3
# The modules whose source decides what a package validates to.
VALIDATING_PACKAGES = ("data", "loading")


@cache
def code_digest() -> str:
    """SHA-256 of the source of every module that validates, read once per process."""
    return source_digest(*(f"{package}/*.py" for package in VALIDATING_PACKAGES))


@cache
def source_digest(*patterns: str) -> str:
    """SHA-256 of the files of this library matching ``patterns`` (globs under ``aifunding/``), with its version."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256(f"{__version__}/{FORMAT}".encode())
    for pattern in patterns:
        for source in sorted(root.glob(pattern)):
            digest.update(source.relative_to(root).as_posix().encode())
            digest.update(source.read_bytes())
    return digest.hexdigest()


def content_key(
    descriptor: Mapping[str, Any],
    texts: Mapping[str, tuple[str, bytes | None]],
    limits: Limits,
    said: list[str] | None = None,
) -> str:
    """The key of a package: what validation would read (each file's bytes), how, and what reading it reported.

    The bytes, not the decoded text: a cached package is then opened without decoding its files.
    """
    digest = hashlib.sha256(code_digest().encode())
    digest.update(json.dumps(said or [], ensure_ascii=False).encode())
    digest.update(json.dumps(asdict(limits), sort_keys=True).encode())
    digest.update(json.dumps(descriptor, sort_keys=True, ensure_ascii=False, default=str).encode())
    names = sorted(texts)
    for name, file_digest in zip(names, _file_digests([texts[name][1] for name in names]), strict=True):
        digest.update(f"\0{name}\0{texts[name][0]}\0".encode())
        digest.update(b"\1" if file_digest is None else b"\2" + file_digest)
    return digest.hexdigest()


# Bytes of a file hashed as one block; its digest is the digest of its blocks' digests, in order.
HASH_BLOCK = 32 << 20
HASHERS = min(2, os.cpu_count() or 1)


def _file_digests(files: list[bytes | None]) -> list[bytes | None]:
    """Each file's digest (None for a file not read): every block of every file hashed by :data:`HASHERS` threads."""
    blocks = [
        (index, memoryview(data)[start : start + HASH_BLOCK])
        for index, data in enumerate(files)
        if data is not None
        for start in range(0, len(data), HASH_BLOCK)
    ]
    parts: dict[int, list[bytes]] = {index: [] for index, data in enumerate(files) if data is not None}
    with ThreadPoolExecutor(HASHERS, thread_name_prefix="aifunding-hash") as pool:
        hashed = pool.map(lambda block: hashlib.sha256(block[1]).digest(), blocks)
        for (index, _), part in zip(blocks, hashed, strict=True):
            parts[index].append(part)
    return [None if data is None else hashlib.sha256(b"".join(parts[i])).digest() for i, data in enumerate(files)]


def stat_key(
    root: Path, descriptor: Mapping[str, Any], files: Mapping[str, str], limits: Limits, said: list[str]
) -> str | None:
    """A key from what ``stat`` says of the package's files, or None when one is missing or not a regular file.

    Size, modification and change times, inode and device of each file: any write to a file changes its
    change time, which no one can set back, so a file that changed never has the key it had. It finds
    a package's content key (:func:`content_key`) without reading its files again (:meth:`PackageCache.known`).
    """
    digest = hashlib.sha256(code_digest().encode())
    digest.update(json.dumps([said, asdict(limits), os.path.realpath(root)], default=str).encode())
    digest.update(json.dumps(descriptor, sort_keys=True, ensure_ascii=False, default=str).encode())
    for name in sorted(files):
        try:
            found = os.stat(root / files[name], follow_symlinks=False)
        except (OSError, ValueError):
            return None
        if not stat.S_ISREG(found.st_mode):
            return None
        facts = (name, files[name], found.st_size, found.st_mtime_ns, found.st_ctime_ns, found.st_ino, found.st_dev)
        digest.update(json.dumps(facts).encode())
    return digest.hexdigest()
