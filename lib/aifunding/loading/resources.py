"""The tables a package's descriptor names: each one's file, and what is wrong with the resources it lists."""

from __future__ import annotations

from typing import Any

from aifunding.data.reading import UnsafeFile, check_relative_path
from aifunding.data.report import Problem, Severity, ValidationReport
from aifunding.data.schema import DESCRIPTOR_NAME
from aifunding.data.tables import TABLES, TABLES_BY_NAME


def _descriptor_problem(rule: str, table: str | None, field: str, value: str | None, message: str) -> Problem:
    return Problem(Severity.ERROR, rule, table, DESCRIPTOR_NAME, None, field, value, message)


def resource_files(descriptor: dict[str, Any], report: ValidationReport) -> dict[str, str]:
    """Table name -> the relative path its resource names, for every table whose path is usable."""
    resources = descriptor.get("resources")
    if not isinstance(resources, list):
        report.problems.append(
            _descriptor_problem(
                "descriptor",
                None,
                "resources",
                None,
                "the descriptor has no 'resources' list; it must list one resource per table",
            )
        )
        resources = []
    by_name = {r["name"]: r for r in resources}
    files: dict[str, str] = {}
    for table in TABLES:
        resource = by_name.get(table.name)
        if resource is None and table.optional:
            continue
        if resource is None:
            report.problems.append(
                _descriptor_problem(
                    "missing-table",
                    table.name,
                    "resources",
                    table.name,
                    f"the descriptor does not list the '{table.name}' table; expected a resource named "
                    f"'{table.name}' with path '{table.path}'",
                )
            )
            continue
        rel = resource.get("path")
        try:
            check_relative_path(rel)
        except UnsafeFile as exc:
            report.problems.append(
                _descriptor_problem(
                    "resource-path", table.name, "path", short(rel), f"the '{table.name}' resource {exc}"
                )
            )
            continue
        files[table.name] = rel
    for name in sorted(by_name.keys() - TABLES_BY_NAME.keys()):
        report.problems.append(
            Problem(
                Severity.WARNING,
                "unknown-table",
                short(name),
                DESCRIPTOR_NAME,
                None,
                "resources",
                short(name),
                f"resource '{short(name)}' is not a known table and was not loaded; known tables: "
                + ", ".join(TABLES_BY_NAME),
            )
        )
    return files


def short(value: object, limit: int = 80) -> str:
    """``value`` as text, cut to ``limit`` characters (its last an ellipsis) to be quoted in a problem."""
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
