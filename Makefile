# One command each: make run, make test, make proto, make proto-check,
# make lint, make bench. Everything installs into .venv from the package
# registries; nothing is installed by hand.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 50051
DATA   ?= ./data
DEMO   ?= ./demo-bank
GEN_DIR := client/finseg/v1
PROTOS := $(wildcard protos/finseg/v1/*.proto)

.PHONY: venv proto proto-check proto-breaking test lint run bench bench-crash bench-load bench-cancel bench-auth bench-observe bench-loops clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

# Regenerates the Python stubs from protos/. The generated files are
# committed so that `pip install` needs no code generator.
proto: venv
	$(PY) -m finseg.client.protogen $(GEN_DIR)

# Fails when the committed stubs differ from what protos/ generates.
proto-check: venv
	$(PY) -m finseg.client.protogen --check $(GEN_DIR)

test: venv proto-check lint
	$(PY) -m pytest -q

lint: venv
	cd protos && ../$(VENV)/bin/buf lint
	$(VENV)/bin/ruff check server client tests bench
	$(VENV)/bin/mypy server/finseg client/finseg/client

# Starts the service on the embedded LMDB store with a generated demo bank
# loaded, and prints a grpcurl command that works against it.
run: venv
	$(PY) -m finseg.client.demo --port $(PORT) --data-dir $(DATA) --demo-dir $(DEMO)

# Fails when protos/ breaks wire compatibility with AGAINST (a git ref).
AGAINST ?= HEAD~1
proto-breaking: venv
	cd protos && ../$(VENV)/bin/buf breaking --against '../.git#ref=$(AGAINST),subdir=protos'

bench: venv
	$(PY) -m bench.run

# 32 concurrent clients mixing ingest and segment calls for 60 s (not in CI).
bench-load: venv
	$(PY) -m bench.load

# How fast CancelSegment stops a running job on the store `make bench` loaded.
bench-cancel: venv
	$(PY) -m bench.cancel

# Per-account loops against one flat loop over the same bytes, on the 50M store.
bench-loops: venv
	$(PY) -m bench.account_loops

# The added latency of token verification per call (HS256, RS256).
bench-auth: venv
	$(PY) -m bench.auth

# The added latency of call logs (text, JSON) and tracing per call.
bench-observe: venv
	$(PY) -m bench.observe

# The long crash test: 20 rounds of SIGKILL during ingestion (not in CI).
bench-crash: venv
	$(PY) -m bench.crash --rounds 20

clean:
	rm -rf $(VENV) $(DATA) $(DEMO) .pytest_cache
