"""aifunding: validated, source-cited datasets of government AI funding.

The domain library behind the dashboard and the ``aifunding`` command: row models, loading and
validation, derived figures, currency conversion, formatting, chart builders and exports. It never
imports streamlit.
"""

from pathlib import Path

__version__ = "1.0.0"

# The bundled package lives at the top of the repository, beside lib/.
BUNDLED_DATA = Path(__file__).resolve().parents[2] / "data"
