"""The domain library stays importable without the dashboard: `aifunding` never imports streamlit.

And what importing it sets up for the whole process: Arrow's allocator.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import aifunding

LIB = Path(aifunding.__file__).parent
MODULES = (
    "aifunding",
    "aifunding.cli",
    "aifunding.figures.registry",
    "aifunding.outputs.snapshot",
    "aifunding.analysis.view",
    "aifunding.figures.presentation",
    "aifunding.outputs.export",
    "aifunding.analysis.urlstate",
)
STREAMLIT_IMPORT = re.compile(r"^\s*(import\s+streamlit|from\s+streamlit[\s.])", re.MULTILINE)


def test_importing_the_library_does_not_import_streamlit() -> None:
    # A fresh interpreter: this test session may have imported streamlit for other tests.
    code = f"import sys, {', '.join(MODULES)}; assert 'streamlit' not in sys.modules, 'streamlit was imported'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_a_page_imports_no_spreadsheet_library_until_a_workbook_is_read_or_written() -> None:
    """openpyxl (and Pillow, which it imports) cost a quarter of a second of every server start: imported on use."""
    dashboard = Path(__file__).resolve().parents[1] / "dashboard"
    modules = "ui.page, ui.sidebar, ui.own_data, ui.blocks, aifunding.figures.registry, aifunding.outputs.export"
    code = (
        f"import sys; sys.path.insert(0, {str(dashboard)!r}); import {modules}; "
        "assert 'openpyxl' not in sys.modules, 'openpyxl was imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("chosen", "pool"), [(None, "jemalloc"), ("system", "system"), ("mimalloc", "mimalloc")])
def test_arrow_allocates_from_jemalloc_unless_the_environment_chooses(chosen: str | None, pool: str) -> None:
    # Streamlit makes Arrow's default pool before the dashboard imports the library: pyarrow is imported
    # and allocates first here too, so the library sets the pool rather than only the variable.
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if chosen is not None:
        env["ARROW_DEFAULT_MEMORY_POOL"] = chosen
    code = (
        "import pyarrow as pa; pa.array(['x'] * 1000); import aifunding; print(pa.default_memory_pool().backend_name)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == pool


THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")
# Allocates 64 MB from Arrow's pool, touches every page, and prints the process's anonymous huge pages (kB) and
# whether jemalloc's options are still in its environment.
HUGE_PAGES_CODE = (
    "import os, numpy as np, pyarrow as pa;"
    "huge = lambda: int(next(l.split()[1] for l in open('/proc/self/smaps_rollup') if l.startswith('AnonHugePages')));"
    "before = huge(); buffer = pa.allocate_buffer(64 << 20); np.frombuffer(buffer, np.uint8)[:] = 1;"
    "print(huge() - before, os.environ.get('JE_ARROW_MALLOC_CONF'), pa.default_memory_pool().backend_name)"
)


@pytest.mark.skipif(
    not THP.exists() or "[never]" in THP.read_text(), reason="the kernel grants no transparent huge pages"
)
@pytest.mark.parametrize(
    ("first", "given", "huge", "left"),
    [
        ("import aifunding", None, True, "None"),  # the command line: the library loads pyarrow
        ("import pyarrow; import aifunding", None, False, "None"),  # Streamlit loaded it first: too late
        ("import pyarrow; import aifunding", "thp:always", True, "thp:always"),  # as `make run` gives it
        ("import aifunding", "thp:never", False, "thp:never"),  # a choice of the environment is kept
    ],
)
def test_arrow_allocates_in_huge_pages_when_the_library_loads_pyarrow(
    first: str, given: str | None, huge: bool, left: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("ARROW_DEFAULT_MEMORY_POOL", "JE_ARROW_MALLOC_CONF")}
    if given is not None:
        env["JE_ARROW_MALLOC_CONF"] = given
    code = f"{first}; {HUGE_PAGES_CODE}"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    grown, options, pool = result.stdout.split()
    assert (int(grown) >= 32 * 1024, options, pool) == (huge, left, "jemalloc")


def test_no_library_source_imports_streamlit() -> None:
    sources = sorted(LIB.rglob("*.py"))
    assert len(sources) > 10, LIB
    offenders = [str(path.relative_to(LIB)) for path in sources if STREAMLIT_IMPORT.search(path.read_text("utf-8"))]
    assert offenders == []


def test_the_check_would_catch_an_import() -> None:
    # Guard against a pattern that can never match.
    assert STREAMLIT_IMPORT.search("import streamlit as st\n")
    assert STREAMLIT_IMPORT.search("    from streamlit.testing.v1 import AppTest\n")
    assert not STREAMLIT_IMPORT.search("# the dashboard uses streamlit\n")


# --- Text that is not ours never reaches markdown unescaped --------------------------------------------

DASHBOARD = Path(__file__).resolve().parents[1] / "dashboard"
MARKDOWN_CALLS = {"markdown", "caption", "info", "warning", "error", "success", "title", "header", "subheader",
                  "write", "toast", "metric"}  # fmt: skip


def _allowed_markdown_argument(node: ast.expr) -> bool:
    """Our own text: a message by key (``t("...")`` with no values), or text built by aifunding.markup."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "t":
        return not node.keywords and len(node.args) == 1 and isinstance(node.args[0], ast.Constant)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        owner = node.func.value
        return isinstance(owner, ast.Name) and owner.id == "markup"
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "method_markdown"


def unescaped_markdown_calls(source: str) -> list[str]:
    """Calls of ``st.<markdown element>`` whose text is not ours by construction."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "st"
            and node.func.attr in MARKDOWN_CALLS
            and node.args
            and not _allowed_markdown_argument(node.args[0])
        ):
            found.append(f"line {node.lineno}: st.{node.func.attr}({ast.unparse(node.args[0])[:60]})")
    return found


def test_pages_pass_values_not_markdown() -> None:
    # Pages show data through components (ui.notice, ui.heading_text, ...), which escape it.
    pages = sorted((DASHBOARD / "views").glob("*.py"))
    assert len(pages) == 7
    offenders = {p.name: unescaped_markdown_calls(p.read_text("utf-8")) for p in pages}
    assert {name: calls for name, calls in offenders.items() if calls} == {}


def test_the_markdown_check_would_catch_data_text() -> None:
    assert unescaped_markdown_calls("st.subheader(name)\nst.info(f'{x}')\nst.markdown(t('a', n=name))\n") == [
        "line 1: st.subheader(name)",
        "line 2: st.info(f'{x}')",
        "line 3: st.markdown(t('a', n=name))",
    ]
    assert unescaped_markdown_calls("st.subheader(t('k'))\nst.markdown(markup.link(a, b))\n") == []
