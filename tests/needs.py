"""What a group of tests needs from the machine: skipped without it locally, failed without it under CI=true."""

from __future__ import annotations

import os

import pytest


def require(condition: bool, why: str, what: str) -> None:
    """Go on when ``condition`` holds; otherwise skip (``why``), or fail under CI=true, where ``what`` must run."""
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why} (CI=true: {what} must run)")
    pytest.skip(why)
