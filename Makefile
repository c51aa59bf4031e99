# Memory reels: every command sets itself up; `make run` and `make test` are all a
# fresh machine needs.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export REEL_DATA_DIR ?= ./var

.PHONY: install run lint test test-quick bench protos protos-check sample lock clean tools buf node-client

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

# npm tools, pinned by their package-lock.json and installed like the venv (a stamp
# newer than the lock file): the buf CLI (tools/) and the Node.js client's gRPC
# libraries (clients/node/). `npm ci` installs exactly the locked versions.
TOOLS_STAMP := tools/node_modules/.installed
NODE_CLIENT_STAMP := clients/node/node_modules/.installed

$(TOOLS_STAMP): tools/package.json tools/package-lock.json
	cd tools && npm ci --no-audit --no-fund --loglevel=error
	touch $@

tools: $(TOOLS_STAMP)

# Without npm the Node client's test is skipped, and fails in CI (CI=true).
$(NODE_CLIENT_STAMP): clients/node/package.json clients/node/package-lock.json
	@if command -v npm >/dev/null; then \
		cd clients/node && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else echo "npm not found: the Node.js client is not installed"; fi

node-client: $(NODE_CLIENT_STAMP)

# buf lint (STANDARD rules) and buf breaking (against the contracts before their
# newest change) over protos/; see buf.yaml and scripts/buf_check.py.
buf: $(STAMP) $(TOOLS_STAMP)
	$(BIN)/python scripts/buf_check.py

protos: $(STAMP)
	$(BIN)/python scripts/gen_protos.py

protos-check: $(STAMP)
	$(BIN)/python scripts/gen_protos.py --check

sample: $(STAMP)
	$(BIN)/python scripts/make_sample.py --data-dir "$(REEL_DATA_DIR)"

# Both services on the embedded default (SQLite + local disk); the sample library
# is written when REEL_LIBRARIES is unset. Ctrl-C stops both.
# Metrics are on (docs/OPERATIONS.md): render at 127.0.0.1:9464, scripter at :9465.
run: $(STAMP)
	@if [ -z "$$REEL_LIBRARIES" ]; then $(BIN)/python scripts/make_sample.py --data-dir "$(REEL_DATA_DIR)"; fi
	REEL_METRICS_ADDR="$${REEL_METRICS_ADDR-127.0.0.1:9464}" \
	REEL_SCRIPTER_METRICS_ADDR="$${REEL_SCRIPTER_METRICS_ADDR-127.0.0.1:9465}" \
	$(BIN)/python scripts/run_pair.py

# Lint, format check, the import contracts (the dependency rule) and the type check;
# all configured in pyproject.toml. `make test` runs it first.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

# The suite on every core, a test file per worker at a time (pytest-xdist): about
# 9.5 min on one core of this 2-core machine, measured; PYTEST_WORKERS=0 runs it
# in one process.
PYTEST_WORKERS ?= auto
test: lint buf node-client
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile

# The suite without the slow end-to-end sweeps (a minute or two less).
test-quick: lint buf node-client
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile -m "not slow"

bench: $(STAMP)
	$(BIN)/python scripts/bench_render.py
	$(BIN)/python scripts/bench_stream.py
	$(BIN)/python scripts/bench_viewers.py
	$(BIN)/python scripts/bench_precomputed.py
	$(BIN)/python scripts/bench_replicas.py
	$(BIN)/python scripts/bench_scan.py
	$(BIN)/python scripts/bench_analysis.py
	$(BIN)/python scripts/bench_phone_video.py
	$(BIN)/python scripts/bench_hiding.py

# Re-resolve pinned versions from requirements.in (runtime) and requirements-dev.in
# (tests and tools, which includes requirements.in), needs the registries.
lock:
	$(PY) -m venv /tmp/reels-lock && /tmp/reels-lock/bin/pip install -q -r requirements-dev.in && /tmp/reels-lock/bin/pip freeze --exclude-editable | grep -v '^pip==' > requirements.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
