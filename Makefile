PYTHON ?= python3
PORT ?= 8501
PIP = $(PYTHON) -m pip
# Where the browser tests look for Debian's Chromium (tests/browser/serving.py).
CHROMIUM ?= $(or $(AIFUNDING_CHROMIUM),/usr/bin/chromium)
AXE = node_modules/axe-core/axe.min.js

.PHONY: install install-locked dev-deps browser-tools browser-deps run test test-unit test-browser lint typecheck schema bench bench-scale bench-live lock

# The runtime only: what `make run` needs. No pytest, Playwright or ruff.
install:
	$(PIP) install -r requirements.txt

# The same, from the hashed lock: for servers.
install-locked:
	$(PIP) install --require-hashes -r requirements.lock
	$(PIP) install --no-deps -e .

# Tests and tooling from requirements-dev.lock, unless this Python already has every locked version and
# this checkout's aifunding; the check takes well under a second, so a second `make test` installs nothing.
dev-deps:
	@$(PYTHON) -c "$$LOCK_SATISFIED" requirements-dev.lock "$(CURDIR)" || { \
	  $(PIP) install --require-hashes -r requirements-dev.lock && $(PIP) install --no-deps -e . ; }

# Debian's Chromium and npm for the browser tests, and PostgreSQL for the store's: installed with apt-get when missing and we are root,
# otherwise a note that the browser tests will be skipped (they fail instead under CI=true).
browser-tools:
	@missing=; \
	[ -x "$(CHROMIUM)" ] || command -v chromium >/dev/null 2>&1 || missing=chromium; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || \
	  missing="$$missing postgresql"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "==> apt-get install $$missing (for the browser tests)"; \
	  { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; } || \
	  echo "note: apt-get could not install $$missing; the browser and store tests that need it will be skipped"; \
	else \
	  echo "note: no $$missing here, and installing it needs root and apt-get: the browser and store tests that need it" \
	       "will be skipped (to install: apt-get install -y --no-install-recommends $$missing)"; \
	fi

# axe-core for the accessibility checks: `npm ci` when it is missing or package-lock.json is newer.
$(AXE): package.json package-lock.json | browser-tools
	@if command -v npm >/dev/null 2>&1; then \
	  echo "==> npm ci (axe-core for the accessibility checks)"; \
	  npm ci --no-audit --no-fund && touch $@; \
	else \
	  echo "note: npm not found, so no axe-core: the accessibility checks will be skipped"; \
	fi

browser-deps: browser-tools $(AXE)

# Arrow's jemalloc in the kernel's huge pages (aifunding.JEMALLOC_OPTIONS): read as pyarrow loads, which Streamlit
# does before the dashboard's code runs, so given here; a value already in the environment is kept.
run:
	JE_ARROW_MALLOC_CONF="$${JE_ARROW_MALLOC_CONF-thp:always}" $(PYTHON) -m streamlit run dashboard/serve.py --server.port $(PORT)

# The whole suite: unit, property, AppTest and browser tests.
# The whole suite, with line coverage of lib/aifunding reported and held at the floor in pyproject.toml.
test: dev-deps browser-deps
	$(PYTHON) -m pytest --cov --cov-report=term:skip-covered

test-unit: dev-deps
	$(PYTHON) -m pytest -m "not browser"

test-browser: dev-deps browser-deps
	$(PYTHON) -m pytest -m browser

lint: dev-deps typecheck
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -c "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"

# mypy over lib/aifunding, as [tool.mypy] in pyproject.toml sets it up (pandas-stubs for pandas).
typecheck: dev-deps
	$(PYTHON) -m mypy

schema:
	$(PYTHON) -m aifunding schema --write data/datapackage.json

bench: dev-deps browser-tools
	$(PYTHON) benchmarks/first_chart.py
	$(PYTHON) benchmarks/filter_rerun.py
	$(PYTHON) benchmarks/validation_cost.py

# Not part of `bench`: minutes at 100k awards. Its floors read the same CSVs with pyarrow and DuckDB.
bench-scale:
	$(PYTHON) benchmarks/scale.py

# Not part of `bench` either: a few minutes. Follow latency and server CPU with 1, 20 and 100 followers.
bench-live:
	$(PYTHON) benchmarks/live.py

# Regenerates requirements.lock (runtime) and requirements-dev.lock (runtime + tooling, agreeing with it)
# from requirements*.txt, with sha256 hashes of every wheel and sdist on PyPI, for Python 3.11 on any OS.
# Versions already in the locks are kept; `make lock LOCK_FLAGS=--upgrade` moves to the newest allowed.
UV_VERSION ?= 0.13.9
LOCK_TOOLS = build/lock-tools
LOCK_FLAGS ?=
COMPILE = UV_CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_TOOLS)/bin/uv pip compile --quiet --no-config \
	--index-url https://pypi.org/simple --universal --python-version 3.11 --generate-hashes --no-strip-extras \
	--no-emit-package aifunding $(LOCK_FLAGS)

lock:
	@$(LOCK_TOOLS)/bin/uv --version 2>/dev/null | grep -qF " $(UV_VERSION)" || { \
	  $(PYTHON) -m venv $(LOCK_TOOLS) && $(LOCK_TOOLS)/bin/pip install --quiet "uv==$(UV_VERSION)" ; }
	$(COMPILE) requirements.txt -o requirements.lock
	$(COMPILE) -c requirements.lock requirements-dev.txt -o requirements-dev.lock

# Exit status 0 when this Python has every package of the lock (argv[1]) that applies to it, at the locked
# version, and aifunding from this checkout (argv[2]); otherwise says what is missing and exits 1.
define LOCK_SATISFIED
import importlib.util, os, sys
from importlib.metadata import PackageNotFoundError, version
try:
    from packaging.markers import Marker
    from packaging.version import Version
except ImportError:
    from pip._vendor.packaging.markers import Marker
    from pip._vendor.packaging.version import Version
lock, root = sys.argv[1:]
wrong = []
for line in open(lock, encoding="utf-8"):
    if not line[:1].isalnum():
        continue
    pin, _, marker = line.rstrip().rstrip("\\").partition(";")
    if marker.strip() and not Marker(marker.strip()).evaluate():
        continue
    name, _, wanted = pin.strip().partition("==")
    name = name.partition("[")[0]  # coverage[toml]: the distribution is coverage
    try:
        have = version(name)
    except PackageNotFoundError:
        have = None
    if have is None or Version(have) != Version(wanted):
        wrong.append(f"{name} {have or 'missing'}, locked {wanted}")
spec = importlib.util.find_spec("aifunding")
if spec is None or not str(spec.origin).startswith(os.path.join(root, "lib", "")):
    wrong.append(f"aifunding not installed from {root}")
if wrong:
    print(f"==> installing {lock}: " + "; ".join(wrong[:5]) + (" ..." if len(wrong) > 5 else ""))
    sys.exit(1)
endef
export LOCK_SATISFIED
