PYTHON ?= python3
PORT ?= 8501

.PHONY: install run test test-unit test-browser lint schema bench

install:
	$(PYTHON) -m pip install -r requirements.txt

run:
	$(PYTHON) -m streamlit run dashboard/app.py --server.port $(PORT)

# The whole suite: unit, property, AppTest and browser tests.
test:
	$(PYTHON) -m pytest

test-unit:
	$(PYTHON) -m pytest -m "not browser"

test-browser:
	$(PYTHON) -m pytest -m browser

lint:
	$(PYTHON) -m ruff check .

schema:
	$(PYTHON) -m aifunding schema --write data/datapackage.json

bench:
	$(PYTHON) benchmarks/first_chart.py
	$(PYTHON) benchmarks/filter_rerun.py
