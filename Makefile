# One command per job; CI (.ci/run) runs `make lint` and `make test`.
VENV ?= venv
PY := $(VENV)/bin/python

.PHONY: install test lint validate bench

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

test: install
	$(PY) -m pytest

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

bench: install
	$(PY) scripts/bench.py
