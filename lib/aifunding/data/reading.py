"""Reading a package's files safely: regular files inside the package folder only, bounded in size.

Every path a descriptor names is opened one component at a time beneath the package folder with
``O_NOFOLLOW``, so a symbolic link anywhere on the way (to ``/etc/passwd``, ``/proc/self/environ``
or a folder elsewhere) is refused before a byte is read; what is opened must then be a regular
file (not a folder, FIFO, socket or device) no larger than its limit. The descriptor itself goes
through the same door, then its JSON is bounded in size and depth and its fields are checked for
the types the rest of the library relies on.
"""

from __future__ import annotations

import json
import os
import posixpath
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from aifunding.data.limits import Limits, describe_bytes
from aifunding.data.schema import DESCRIPTOR_NAME


class PackageReadError(Exception):
    """The package cannot be read at all (no descriptor, or a descriptor that is not usable JSON).

    ``str()`` may name the path it was given (for the person at the command line); ``public`` never
    names a path on this machine, for anyone else (the dashboard's viewers).
    """

    def __init__(self, message: str, public: str | None = None) -> None:
        super().__init__(message)
        self.public = public or message


class UnsafeFile(Exception):
    """A file a descriptor names cannot be read under the package rules; the message says why.

    ``rule`` is the validator's code for it: ``missing-file``, ``file-too-large`` or ``unsafe-file``.
    """

    def __init__(self, message: str, rule: str = "unsafe-file") -> None:
        super().__init__(message)
        self.rule = rule


def check_relative_path(rel: object) -> PurePosixPath:
    """A descriptor's ``path`` as a relative path inside the package, or :class:`UnsafeFile` saying why."""
    need = "needs a relative 'path' inside the package folder"
    if not isinstance(rel, str) or not rel.strip():
        raise UnsafeFile(f"{need} naming its CSV file")
    if "\x00" in rel or "\\" in rel:
        raise UnsafeFile(f"{need}: a NUL or backslash is not allowed, use forward slashes")
    path = PurePosixPath(rel)
    if path.is_absolute() or ".." in path.parts or rel.startswith("~"):
        raise UnsafeFile(f"{need}: no leading '/' or '~' and no '..'")
    if "://" in rel:
        raise UnsafeFile(f"{need}: web addresses are never fetched")
    if not path.parts:  # "." or "./": the folder itself
        raise UnsafeFile(f"{need} naming its CSV file, not the folder itself ({rel!r})")
    return path


def read_inside(root: Path, rel: str, max_bytes: int) -> bytes:
    """The bytes of ``rel``, a regular file beneath ``root`` reached without following any link.

    Raises:
        UnsafeFile: when the path leaves the folder, passes through or ends at a link, names
            something other than a regular file, is missing, or is larger than ``max_bytes``.
    """
    with open_inside(root, rel, max_bytes) as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:  # the file grew while it was read
        raise UnsafeFile(f"is larger than the {describe_bytes(max_bytes)} limit and was not read", "file-too-large")
    return data


def open_inside(root: Path, rel: str, max_bytes: int) -> BinaryIO:
    """``rel`` opened for reading, a regular file beneath ``root`` reached without following any link, as
    :func:`read_inside` reads it (the same refusals): for a file read a piece at a time. The caller closes it.
    """
    parts = check_relative_path(rel).parts
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        folder = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as exc:
        raise UnsafeFile(f"the package folder cannot be opened ({exc.strerror})") from None
    try:
        for name in parts[:-1]:
            _refuse_non_regular(folder, name, want_folder=True)
            inner = os.open(name, flags | getattr(os, "O_DIRECTORY", 0), dir_fd=folder)
            os.close(folder)
            folder = inner
        _refuse_non_regular(folder, parts[-1], want_folder=False)
        # O_NONBLOCK: a FIFO swapped in after the check above must not hang the open.
        fd = os.open(parts[-1], flags | getattr(os, "O_NONBLOCK", 0), dir_fd=folder)
    except UnsafeFile:
        os.close(folder)
        raise
    except OSError as exc:
        os.close(folder)
        raise _os_error(exc) from None
    os.close(folder)
    handle = os.fdopen(fd, "rb")
    try:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFile(f"is {_kind(info.st_mode)}, not a regular file; nothing was read")
        if info.st_size > max_bytes:
            raise UnsafeFile(f"is larger than the {describe_bytes(max_bytes)} limit and was not read", "file-too-large")
    except BaseException:
        handle.close()
        raise
    return handle


def _refuse_non_regular(folder: int, name: str, *, want_folder: bool) -> None:
    try:
        info = os.lstat(name, dir_fd=folder)
    except FileNotFoundError:
        raise UnsafeFile("is missing from the package folder", "missing-file") from None
    except OSError as exc:
        raise _os_error(exc) from None
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeFile(
            f"goes through a symbolic link ('{name}'); links are never followed, put the file itself in the package"
        )
    if want_folder and not stat.S_ISDIR(info.st_mode):
        raise UnsafeFile(f"'{name}' on its path is not a folder")
    if not want_folder and not stat.S_ISREG(info.st_mode):
        raise UnsafeFile(f"is {_kind(info.st_mode)}, not a regular file; nothing was read")


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "not a regular file"


def _os_error(exc: OSError) -> UnsafeFile:
    if isinstance(exc, FileNotFoundError):
        return UnsafeFile("is missing from the package folder", "missing-file")
    if exc.errno is not None and exc.errno == getattr(os, "ELOOP", -1):
        return UnsafeFile("is a symbolic link; links are never followed, put the file itself in the package")
    return UnsafeFile(f"cannot be read ({exc.strerror or exc})")


def unlisted_files(root: Path, listed: Iterable[str]) -> list[str]:
    """The CSV files at the top of the package folder ``root`` that no path of ``listed`` names, in name order.

    A file dropped beside the tables (``awards_2025.csv``) is never read: the caller says so rather than
    leave it out without a word. Only regular files are named; nothing in them is read.
    """
    named = {posixpath.normpath(path) for path in listed}
    return sorted(
        entry.name
        for entry in root.iterdir()
        if entry.suffix.lower() == ".csv" and entry.name not in named and entry.is_file() and not entry.is_symlink()
    )


def package_root(path: str | Path) -> Path:
    """The package folder for a folder or its datapackage.json (the operator's path may be a link)."""
    path = Path(path)
    if path.name == DESCRIPTOR_NAME and not path.is_dir():
        return path.parent
    return path


@dataclass(frozen=True)
class DescriptorIssue:
    """Something wrong with one field of the descriptor: the field and what is allowed."""

    field: str
    value: str | None
    message: str


def read_descriptor(root: Path, limits: Limits) -> dict[str, Any]:
    """The descriptor of the package in ``root`` as a JSON object.

    Raises:
        PackageReadError: when it is missing, a link or not a file, too large, not UTF-8, not JSON,
            nested deeper than the limit, or not an object.
    """
    if not root.is_dir():
        raise PackageReadError(
            f"no {DESCRIPTOR_NAME} found at {root}", f"no {DESCRIPTOR_NAME} found: the package folder does not exist"
        )
    try:
        data = read_inside(root, DESCRIPTOR_NAME, limits.descriptor_bytes)
    except UnsafeFile as exc:
        if exc.rule == "missing-file":
            raise PackageReadError(
                f"no {DESCRIPTOR_NAME} found at {root / DESCRIPTOR_NAME}", f"no {DESCRIPTOR_NAME} found in the package"
            ) from None
        raise PackageReadError(f"{DESCRIPTOR_NAME} {exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PackageReadError(f"{DESCRIPTOR_NAME} is not UTF-8 text") from None
    try:
        descriptor = json.loads(text)
    except json.JSONDecodeError as exc:
        # The decoder's message may end "at", its place said after it ("Invalid control character at"): here first.
        where = f"line {exc.lineno}, column {exc.colno}"
        raise PackageReadError(
            f"{DESCRIPTOR_NAME} is not valid JSON ({where}: {exc.msg.removesuffix(' at')})"
        ) from None
    except RecursionError:
        raise PackageReadError(
            f"{DESCRIPTOR_NAME} is nested too deeply (at most {limits.descriptor_depth} levels)"
        ) from None
    if json_depth(descriptor) > limits.descriptor_depth:
        raise PackageReadError(f"{DESCRIPTOR_NAME} is nested too deeply (at most {limits.descriptor_depth} levels)")
    if not isinstance(descriptor, dict):
        raise PackageReadError(f"{DESCRIPTOR_NAME} must hold a JSON object")
    return descriptor


def json_depth(value: Any) -> int:
    """How deeply objects and lists nest in a parsed JSON value (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        current, depth = stack.pop()
        children = current.values() if isinstance(current, dict) else current if isinstance(current, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


# The descriptor fields the library reads, with the JSON type each must have.
_TEXT_FIELDS = ("name", "title", "description", "version")


def clean_descriptor(descriptor: dict[str, Any]) -> tuple[dict[str, Any], list[DescriptorIssue]]:
    """The descriptor with every field the library reads of the type it needs, and what was set aside.

    A field of the wrong type (``"licenses": 5``, a resource whose ``name`` is a list) is dropped
    from the cleaned copy and reported, so no later step meets a type it does not expect.
    """
    cleaned = dict(descriptor)
    issues: list[DescriptorIssue] = []
    for name in _TEXT_FIELDS:
        if name in cleaned and not isinstance(cleaned[name], str):
            issues.append(DescriptorIssue(name, _shown(cleaned.pop(name)), f"'{name}' must be text; it was ignored"))
    if "licenses" in cleaned:
        licences = cleaned["licenses"]
        if not isinstance(licences, list):
            issues.append(
                DescriptorIssue(
                    "licenses", _shown(cleaned.pop("licenses")), "'licenses' must be a list; it was ignored"
                )
            )
        else:
            kept = [_text_only(item) for item in licences if isinstance(item, dict)]
            if len(kept) != len(licences):
                issues.append(
                    DescriptorIssue("licenses", None, "each licence must be an object with name, path and title")
                )
            cleaned["licenses"] = [item for item in kept if item]
    resources = cleaned.get("resources")
    if isinstance(resources, list):
        kept_resources = []
        for index, resource in enumerate(resources):
            resource_name = resource.get("name") if isinstance(resource, dict) else None
            if not isinstance(resource_name, str):
                issues.append(
                    DescriptorIssue(
                        f"resources[{index}]",
                        _shown(resource_name if isinstance(resource, dict) else resource),
                        "each resource must be an object whose 'name' is text; this one was ignored",
                    )
                )
                continue
            kept_resources.append(resource)
        cleaned["resources"] = kept_resources
    return cleaned, issues


def _text_only(item: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in item.items() if isinstance(k, str) and isinstance(v, str)}


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:79] + "…"
