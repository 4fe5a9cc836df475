"""The domain library stays importable without the dashboard: `aifunding` never imports streamlit."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import aifunding

LIB = Path(aifunding.__file__).parent
MODULES = ("aifunding", "aifunding.cli", "aifunding.charts", "aifunding.filters", "aifunding.presentation",
           "aifunding.export", "aifunding.urlstate")  # fmt: skip
STREAMLIT_IMPORT = re.compile(r"^\s*(import\s+streamlit|from\s+streamlit[\s.])", re.MULTILINE)


def test_importing_the_library_does_not_import_streamlit() -> None:
    # A fresh interpreter: this test session may have imported streamlit for other tests.
    code = f"import sys, {', '.join(MODULES)}; assert 'streamlit' not in sys.modules, 'streamlit was imported'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


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
