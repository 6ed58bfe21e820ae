# atoms: the front door. `make run` brings up a seeded local database (and the MCP server); `make test` runs
# every check CI runs. Both start with `make setup`, which installs what a fresh machine lacks. Configuration
# comes from ATOMS_* variables (README "Configuration").

SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c

VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3
ATOMS_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/atoms
ATOMS_PGTAP_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/atoms_pgtap
ATOMS_BENCH_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/atoms_bench
# Scratch databases rebuilt by `make lint` (plpgsql_check needs the migrated functions) and `make policies-doc`
# (the live policies come from pg_policies); named after ATOMS_DATABASE_URL so parallel checkouts do not share them.
ATOMS_LINT_DATABASE_URL ?= $(ATOMS_DATABASE_URL)_lint
ATOMS_POLICIES_DATABASE_URL ?= $(ATOMS_DATABASE_URL)_policies
export ATOMS_DATABASE_URL ATOMS_BENCH_DATABASE_URL
BENCH_ITEMS ?= 1000000

.PHONY: setup system-packages database-server run test test-pytest test-pgtap test-policies lint db-reset \
	policies-doc bench-data bench bench-smoke fuzz

## setup: Debian packages of packages/debian.txt, the venv, the pinned npm tools, and a PostgreSQL that answers
setup: system-packages $(VENV)/.installed node_modules/.installed database-server

system-packages:
	scripts/install-debian-packages packages/debian.txt

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# The server of ATOMS_DATABASE_URL: the running one, else the machine's cluster, else a private one in .atoms/.
database-server: $(VENV)/.installed
	$(BIN)/atoms db start --database-url '$(ATOMS_DATABASE_URL)'

## run: seeded local database, a dev token with client configuration, then the MCP server over HTTP (ATOMS_DEV=1:
## local development only, loopback, the local demo JWT secret)
ATOMS_HTTP_HOST ?= 127.0.0.1
ATOMS_HTTP_PORT ?= 8765
run: export ATOMS_DEV = 1
run: setup
	$(BIN)/atoms db up --seed
	echo "Database ready: $(ATOMS_DATABASE_URL)"
	$(BIN)/atoms dev config --user editor@acme.test --host $(ATOMS_HTTP_HOST) --port $(ATOMS_HTTP_PORT)
	exec $(BIN)/atoms serve --transport http --host $(ATOMS_HTTP_HOST) --port $(ATOMS_HTTP_PORT)

## test: everything CI runs
test: setup lint test-pgtap test-pytest

test-pytest: setup
	$(BIN)/pytest

## fuzz: every tool with at least 2,000 generated and hostile argument sets through the real server (a short run
## of the same fuzzer is part of test-pytest)
fuzz: setup
	$(BIN)/pytest python/tests/test_fuzz_tools.py python/tests/test_fuzz_regressions.py -p no:randomly \
		--hypothesis-profile=fuzz --hypothesis-show-statistics

test-policies: setup
	$(BIN)/pytest -m policies

test-pgtap: setup
	$(BIN)/atoms db reset --seed --database-url '$(ATOMS_PGTAP_DATABASE_URL)'
	psql '$(ATOMS_PGTAP_DATABASE_URL)' -X -q -v ON_ERROR_STOP=1 -c 'create extension if not exists pgtap with schema extensions'
	PGOPTIONS='-c search_path=public,extensions' pg_prove -d '$(ATOMS_PGTAP_DATABASE_URL)' --ext .sql -r supabase/tests

lint: setup
	$(BIN)/sqlfluff lint supabase/ --processes 2
	$(BIN)/ruff check python/
	$(BIN)/ruff format --check python/
	$(BIN)/pyright
	$(BIN)/atoms db reset --database-url '$(ATOMS_LINT_DATABASE_URL)'
	$(BIN)/python -m atoms_mcp.database.plpgsql_lint --database-url '$(ATOMS_LINT_DATABASE_URL)'

db-reset: setup
	$(BIN)/atoms db reset --seed

policies-doc: setup
	$(BIN)/atoms db reset --database-url '$(ATOMS_POLICIES_DATABASE_URL)'
	$(BIN)/python -m atoms_mcp.database.contract policies --database-url '$(ATOMS_POLICIES_DATABASE_URL)' > policies/README.md

## bench-data: recreate $(ATOMS_BENCH_DATABASE_URL) and load the generated dataset (1M items by default)
bench-data: setup
	$(BIN)/python -m atoms_bench.datagen --reset --database-url '$(ATOMS_BENCH_DATABASE_URL)' --items $(BENCH_ITEMS)

## bench: the full benchmark on the bench-data dataset; writes BENCHMARKS.md and docs/benchmarks.png
bench: setup
	$(BIN)/python -m atoms_bench --full --database-url '$(ATOMS_BENCH_DATABASE_URL)'

## bench-smoke: a few minutes on small generated data (CI keeps the harness working); output in bench/out/
bench-smoke: setup
	$(BIN)/python -m atoms_bench --smoke
