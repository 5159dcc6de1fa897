# One command per job; CI (.ci/run) runs lint, check (dev, local), test, test-slow, validate, render.
VENV ?= venv
PY := $(VENV)/bin/python

.PHONY: install test test-slow lint lint-workflows check generate validate render bench bench-tests e2e

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

test: install
	$(PY) -m pytest

# The long analyses: promtool and amtool proofs, lifecycle walks over several program runs, Helm
# renders, the inert-value analysis (CI runs them after make test).
test-slow: install
	$(PY) -m pytest -m slow

lint: install lint-workflows
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

# GitHub workflows, offline: schema (check-jsonschema's vendored copy) and zizmor's audits.
lint-workflows: install
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(VENV)/bin/zizmor --offline --quiet .github/workflows

# A stack's config judged offline as `pulumi up` judges it: make check STACK=dev (or any
# Pulumi.<name>.yaml); prints every problem, exit 1 when the config is refused.
check: install
	@$(PY) -m canaryctl check $(or $(STACK),dev)

# Pulumi.yaml's config block and docs/configuration.md, docs/services.md from stacks/schema.
generate: install
	$(PY) -m stacks.schema.generate

validate: install
	$(PY) scripts/validate.py

# Every Helm release rendered and validated: make render [STACK=prod] [INERT=1];
# manifests land in build/render/<stack>/<release>/.
render: install
	$(PY) scripts/render.py $(foreach s,$(STACK),--stack $(s)) $(if $(INERT),--inert)

bench: install
	$(PY) scripts/bench.py

# make test's pytest time, median of three runs (target 60 s on 2 cores): run on a quiet machine.
bench-tests: install
	$(PY) scripts/bench_tests.py

# End-to-end on a real cluster: make e2e CONTEXT=kind-kind (prints SKIP without one).
e2e: install
	$(PY) scripts/e2e.py --context "$(CONTEXT)"
