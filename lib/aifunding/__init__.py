"""aifunding: validated, source-cited datasets of government AI funding.

The domain library behind the dashboard and the ``aifunding`` command: row models, loading and
validation, derived figures, currency conversion, formatting, chart builders and exports. It never
imports streamlit.
"""

import contextlib
import os
import sys
from pathlib import Path

# Arrow's jemalloc reads its options as pyarrow's library loads, so they are set before it is imported (when this
# is the first to import it: the command line; `make run` sets them for the dashboard, whose Streamlit imports
# pyarrow first). See _arrow_allocator.
JEMALLOC_OPTIONS = ("JE_ARROW_MALLOC_CONF", "thp:always")
_jemalloc_options_set = (
    "pyarrow" not in sys.modules
    and not os.environ.get("ARROW_DEFAULT_MEMORY_POOL")
    and JEMALLOC_OPTIONS[0] not in os.environ
)
if _jemalloc_options_set:
    os.environ[JEMALLOC_OPTIONS[0]] = JEMALLOC_OPTIONS[1]

import pyarrow as pa  # type: ignore[import-untyped]  # noqa: E402

__version__ = "1.0.0"

# The bundled package lives at the top of the repository, beside lib/.
BUNDLED_DATA = Path(__file__).resolve().parents[2] / "data"


# How long jemalloc keeps a freed page before handing it back to the system. Validating a million awards: peak
# memory 2.95 to 3.09x the CSV with Arrow's own setting (over the 3x target in four runs of eight), 2.61 to 2.77x
# with 50 ms (five runs), in 6.7 to 7.0 s against 6.3 to 7.0 s; with 0 ms, 2.44 to 2.73x in 7.0 to 7.3 s.
JEMALLOC_DECAY_MS = 50


def _arrow_allocator() -> None:
    """Arrow allocates from jemalloc, in huge pages where it can, unless ``ARROW_DEFAULT_MEMORY_POOL`` names a pool.

    The wheels' default, mimalloc, hands the pages of freed columns back to the system and faults fresh
    ones in for the next: at a million awards validating spent 4 s of system time with it against 1.6 s
    with jemalloc (7.8 s against 6.2 s in all), and preparing the views 3.2 s against 1 s. jemalloc hands
    pages back after :data:`JEMALLOC_DECAY_MS`. Set here, where every entry point passes, because Streamlit
    has made Arrow's default pool by the time the dashboard is imported. A build of pyarrow without jemalloc
    keeps its default.

    :data:`JEMALLOC_OPTIONS` ask jemalloc for the kernel's 2 MB pages (transparent huge pages, where the
    system grants them on request), so a column's buffers fault in a 512th of the pages. Validating a million
    awards: 320,000 page faults against 860,000, system time 1.0 s against 1.7 s, 3.8 to 3.9 s against 4.6 s
    in all, at the same peak memory. Read once, as pyarrow loaded: they are not handed down to the programs
    this process runs, unless they were given to it.
    """
    if _jemalloc_options_set:
        del os.environ[JEMALLOC_OPTIONS[0]]
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    with contextlib.suppress(NotImplementedError):
        pa.set_memory_pool(pa.jemalloc_memory_pool())
        pa.jemalloc_set_decay_ms(JEMALLOC_DECAY_MS)


_arrow_allocator()
