"""aifunding: validated, source-cited datasets of government AI funding.

The domain library behind the dashboard and the ``aifunding`` command: row models, loading and
validation, derived figures, currency conversion, formatting, chart builders and exports. It never
imports streamlit.
"""

import contextlib
import os
from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped]

__version__ = "1.0.0"

# The bundled package lives at the top of the repository, beside lib/.
BUNDLED_DATA = Path(__file__).resolve().parents[2] / "data"


# How long jemalloc keeps a freed page before handing it back to the system. Validating a million awards: peak
# memory 2.95 to 3.09x the CSV with Arrow's own setting (over the 3x target in four runs of eight), 2.61 to 2.77x
# with 50 ms (five runs), in 6.7 to 7.0 s against 6.3 to 7.0 s; with 0 ms, 2.44 to 2.73x in 7.0 to 7.3 s.
JEMALLOC_DECAY_MS = 50


def _arrow_allocator() -> None:
    """Arrow allocates from jemalloc, unless ``ARROW_DEFAULT_MEMORY_POOL`` names a pool.

    The wheels' default, mimalloc, hands the pages of freed columns back to the system and faults fresh
    ones in for the next: at a million awards validating spent 4 s of system time with it against 1.6 s
    with jemalloc (7.8 s against 6.2 s in all), and preparing the views 3.2 s against 1 s. jemalloc hands
    pages back after :data:`JEMALLOC_DECAY_MS`. Set here, where every entry point passes, because Streamlit
    has made Arrow's default pool by the time the dashboard is imported. A build of pyarrow without jemalloc
    keeps its default.
    """
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    with contextlib.suppress(NotImplementedError):
        pa.set_memory_pool(pa.jemalloc_memory_pool())
        pa.jemalloc_set_decay_ms(JEMALLOC_DECAY_MS)


_arrow_allocator()
