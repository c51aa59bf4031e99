# Memory reels: every command sets itself up; `make run` and `make test` are all a
# fresh machine needs.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export REEL_DATA_DIR ?= ./var

.PHONY: install run lint test test-quick bench protos protos-check sample lock clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

protos: $(STAMP)
	$(BIN)/python scripts/gen_protos.py

protos-check: $(STAMP)
	$(BIN)/python scripts/gen_protos.py --check

sample: $(STAMP)
	$(BIN)/python scripts/make_sample.py --data-dir "$(REEL_DATA_DIR)"

# Both services on the embedded default (SQLite + local disk); the sample library
# is written when REEL_LIBRARIES is unset. Ctrl-C stops both.
run: $(STAMP)
	@if [ -z "$$REEL_LIBRARIES" ]; then $(BIN)/python scripts/make_sample.py --data-dir "$(REEL_DATA_DIR)"; fi
	$(BIN)/python scripts/run_pair.py

# Lint, format check, the import contracts (the dependency rule) and the type check;
# all configured in pyproject.toml. `make test` runs it first.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest

# The suite without the slow end-to-end sweeps (a minute or two less).
test-quick: lint
	$(BIN)/python -m pytest -m "not slow"

bench: $(STAMP)
	$(BIN)/python scripts/bench_render.py
	$(BIN)/python scripts/bench_stream.py
	$(BIN)/python scripts/bench_precomputed.py
	$(BIN)/python scripts/bench_replicas.py
	$(BIN)/python scripts/bench_scan.py
	$(BIN)/python scripts/bench_analysis.py

# Re-resolve pinned versions from requirements.in (runtime) and requirements-dev.in
# (tests and tools, which includes requirements.in), needs the registries.
lock:
	$(PY) -m venv /tmp/reels-lock && /tmp/reels-lock/bin/pip install -q -r requirements-dev.in && /tmp/reels-lock/bin/pip freeze --exclude-editable | grep -v '^pip==' > requirements.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
