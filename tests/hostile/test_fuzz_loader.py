"""Hypothesis fuzz of the loader: no descriptor JSON and no CSV bytes make an exception escape.

The loader's promise: it returns a package (every problem in its report) or raises
:class:`PackageReadError` for a descriptor it cannot use. Then ``prepare`` and a filtered view of
whatever loaded work too, so every page has something to draw.
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aifunding.analysis.view import ViewState, apply_view, prepare
from aifunding.data.schema import build_descriptor
from aifunding.data.tables import TABLES
from aifunding.loading.package import PackageReadError, load_package

from packages import write_package

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
table_names = st.sampled_from([t.name for t in TABLES])
resource = st.fixed_dictionaries(
    {},
    optional={
        "name": table_names | json_values,
        "path": st.sampled_from([f"{t.name}.csv" for t in TABLES] + ["../x.csv", "/etc/passwd", "a//b", ""])
        | json_values,
        "schema": json_values,
    },
)
descriptors = (
    st.fixed_dictionaries(
        {},
        optional={
            "name": json_values,
            "title": json_values,
            "licenses": json_values | st.lists(st.dictionaries(st.text(max_size=8), json_values, max_size=3)),
            "resources": st.lists(resource | json_values, max_size=14),
        },
    )
    | json_values
)


def _load_and_prepare(folder: Path) -> None:
    try:
        package = load_package(folder)
    except PackageReadError:
        return
    prepared = prepare(package)
    for state in (ViewState(), ViewState(currency="USD", lang="ja")):
        apply_view(prepared, state).sentence()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(descriptor=descriptors)
def test_no_descriptor_makes_an_exception_escape(descriptor: object, tmp_path_factory) -> None:
    folder = write_package(tmp_path_factory.mktemp("fuzz"))
    (folder / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")
    _load_and_prepare(folder)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=st.sampled_from(["programmes", "awards", "award_recipients", "citations", "sources"]), data=st.data())
def test_no_csv_bytes_make_an_exception_escape(table: str, data: st.DataObject, tmp_path_factory) -> None:
    folder = write_package(tmp_path_factory.mktemp("fuzz"))
    path = folder / f"{table}.csv"
    original = path.read_bytes()
    # Raw bytes, or the real file with a slice replaced by random bytes or CSV-ish text.
    mutated = data.draw(
        st.binary(max_size=400)
        | st.builds(
            lambda start, junk: original[:start] + junk + original[start + len(junk) :],
            st.integers(0, len(original)),
            st.binary(max_size=40) | st.text('",\n\r\x00abc=+-1e9.', max_size=40).map(str.encode),
        )
    )
    path.write_bytes(mutated)
    _load_and_prepare(folder)


def test_the_fuzz_descriptor_strategy_reaches_real_tables() -> None:
    # Guard against a strategy that never produces a loadable descriptor: the real one must load.
    descriptor = build_descriptor()
    assert {r["name"] for r in descriptor["resources"]} == {t.name for t in TABLES}
