"""Frictionless Table Schemas generated from the row models, and the package descriptor.

The committed ``data/datapackage.json`` is the output of :func:`build_descriptor`; ``aifunding
schema --check`` regenerates it and fails when the committed file has drifted from the models.
"""

from __future__ import annotations

import json
import types
import typing
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic.fields import FieldInfo

from aifunding.data.tables import TABLES, Table

DESCRIPTOR_NAME = "datapackage.json"

PACKAGE_METADATA: dict[str, Any] = {
    "name": "ai-funding",
    "title": "Government funding for AI foundation models and AI compute",
    "description": (
        "Source-cited programmes, rounds, awards, cloud market shares and milestones of government AI "
        "funding: Japan first (METI's physical-AI foundation-model project, the Economic Security "
        "Promotion Act cloud-program GPU subsidies, GENIAC, ABCI), with seven other countries and blocs "
        "for context. Every figure row is cited in citations.csv; conflicts between sources are caveats "
        "attached in caveat_links.csv. Amounts are whole currency units, exactly as published."
    ),
    "version": "1.0.0",
    "licenses": [
        {
            "name": "CC-BY-4.0",
            "title": "Creative Commons Attribution 4.0",
            "path": "https://creativecommons.org/licenses/by/4.0/",
        }
    ],
    "sources": [
        {
            "title": "Research notes: government funding for AI foundation models and AI compute "
            "(every row cites its documents in sources.csv)",
            "path": "sources.csv",
        }
    ],
}


def unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    """Return (inner type, whether None is allowed)."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0], len(args) < len(typing.get_args(annotation))
    return annotation, False


def base_type(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def annotated_metadata(annotation: Any) -> list[Any]:
    """Constraint objects carried inside ``Annotated[...]`` (nested ``Field(...)`` included).

    pydantic lifts them onto ``FieldInfo.metadata`` only for a bare annotated field; under
    ``Optional`` they stay inside the annotation, so we collect them ourselves.
    """
    found: list[Any] = []
    while typing.get_origin(annotation) is typing.Annotated:
        args = typing.get_args(annotation)
        for meta in args[1:]:
            found.extend(meta.metadata if isinstance(meta, FieldInfo) else [meta])
        annotation = args[0]
    return found


def field_schema(name: str, info: FieldInfo) -> dict[str, Any]:
    """Translate one pydantic field into a Table Schema field descriptor."""
    wrapped, nullable = unwrap_optional(info.annotation)
    inner = base_type(wrapped)
    constraints: dict[str, Any] = {}
    if info.is_required() and not nullable:
        constraints["required"] = True

    if isinstance(inner, type) and issubclass(inner, Enum):
        kind = "string"
        constraints["enum"] = [member.value for member in inner]
    elif inner is Decimal:
        kind = "number"
    elif inner is int:
        kind = "integer"
    elif inner is bool:
        kind = "boolean"
    else:
        kind = "string"

    for meta in [*info.metadata, *annotated_metadata(wrapped)]:
        if isinstance(meta, Gt):
            constraints["exclusiveMinimum"] = _number(meta.gt)
        elif isinstance(meta, Ge):
            constraints["minimum"] = _number(meta.ge)
        elif isinstance(meta, Lt):
            constraints["exclusiveMaximum"] = _number(meta.lt)
        elif isinstance(meta, Le):
            constraints["maximum"] = _number(meta.le)
        elif isinstance(meta, MinLen):
            constraints["minLength"] = meta.min_length
        elif isinstance(meta, MaxLen):
            constraints["maxLength"] = meta.max_length
        elif getattr(meta, "pattern", None):
            constraints["pattern"] = meta.pattern
    # Frictionless 5 has no exclusive bounds on numbers; the inclusive bound plus our own validator
    # (amounts must be greater than zero and below 10^18) keeps both validators consistent.
    if "exclusiveMinimum" in constraints:
        constraints["minimum"] = constraints.pop("exclusiveMinimum")
    if "exclusiveMaximum" in constraints:
        constraints["maximum"] = constraints.pop("exclusiveMaximum")

    result: dict[str, Any] = {"name": name, "type": kind}
    if info.description:
        result["description"] = info.description
    if constraints:
        result["constraints"] = dict(sorted(constraints.items()))
    return result


def _number(value: Any) -> int | float:
    return int(value) if Decimal(value) == int(value) else float(value)


def table_schema(table: Table) -> dict[str, Any]:
    """The Table Schema of one table: fields, primary key and foreign keys."""
    schema: dict[str, Any] = {
        "fields": [field_schema(name, info) for name, info in table.model.model_fields.items()],
        "missingValues": [""],
    }
    if table.primary_key:
        schema["primaryKey"] = list(table.primary_key)
    if table.foreign_keys:
        schema["foreignKeys"] = [
            {
                "fields": fk.field,
                # A self-reference is written as an empty resource name in Table Schema.
                "reference": {"resource": "" if fk.ref_table == table.name else fk.ref_table, "fields": fk.ref_field},
            }
            for fk in table.foreign_keys
        ]
    return schema


def build_descriptor() -> dict[str, Any]:
    """The full datapackage.json descriptor, generated from the table registry and models."""
    resources = [
        {
            "name": table.name,
            "path": table.path,
            "title": table.title,
            "description": table.description,
            "profile": "tabular-data-resource",
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "schema": table_schema(table),
        }
        for table in TABLES
    ]
    return {"profile": "tabular-data-package", **PACKAGE_METADATA, "resources": resources}


def render_descriptor() -> str:
    """The descriptor as the exact text committed to data/datapackage.json."""
    return json.dumps(build_descriptor(), indent=2, ensure_ascii=False) + "\n"


def check_descriptor(path: Path) -> list[str]:
    """Compare a committed datapackage.json with the generated one.

    Returns:
        One line per difference (empty when the file is up to date).
    """
    if not path.is_file():
        return [f"{path} does not exist; run `aifunding schema --write {path}`"]
    try:
        committed = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return [f"{path} is not valid JSON: {exc}"]
    expected = build_descriptor()
    differences = []
    for key in sorted(set(expected) | set(committed)):
        if key == "resources":
            continue
        if committed.get(key) != expected.get(key):
            differences.append(f"package property '{key}' differs from the generated descriptor")
    committed_resources = {r.get("name"): r for r in committed.get("resources", []) if isinstance(r, dict)}
    for resource in expected["resources"]:
        name = resource["name"]
        if name not in committed_resources:
            differences.append(f"resource '{name}' is missing")
            continue
        for key, value in resource.items():
            if committed_resources[name].get(key) != value:
                differences.append(f"resource '{name}': '{key}' differs from the models")
    for name in committed_resources.keys() - {r["name"] for r in expected["resources"]}:
        differences.append(f"resource '{name}' is not a known table")
    return differences
