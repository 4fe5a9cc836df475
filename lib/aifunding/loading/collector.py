"""Python's cycle collector paused while a large package is made: validated, or read back from a cache."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off inside, back on after if it was on before (a pause inside a pause is one).

    Validating or unpickling a package makes millions of objects and frees almost none until it ends; the
    collector would go through that growing heap again and again (a third of the time of validating 10,000
    awards, 0.2 s of reading a million awards' kept views back). None of them can be garbage meanwhile.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
