# loyaltydb: make demo (the main job), make test (everything CI runs), make migrate (DBAs).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# `make migrate DSN=postgresql://…` passes it as --dsn; without DSN the environment's rules apply.
DSN_ARG = $(if $(DSN),--dsn '$(DSN)')
STAMP  := $(VENV)/.installed

.PHONY: help venv demo test lint pytest migrate rollback status selfcheck distribute stress bench bench-ab generate schema migration docs clean

help:
	@echo "make demo     play the seed's story on a throwaway PostgreSQL (no setup needed)"
	@echo "make test     ruff, mypy --strict, the docs build and the pytest suite (starts its own PostgreSQL)"
	@echo "make docs     the documentation site into site/ (warnings are errors)"
	@echo "make migrate  apply migrations to DSN=... / LOYALTYDB_DSN / DATABASE_URL / PG* defaults"
	@echo "make status | rollback | selfcheck | distribute   the same DSN rules (distribute: a Citus coordinator)"
	@echo "             rollback asks on a terminal; YES=1 confirms it (a script must)"
	@echo "make bench    approvals vs pgbench -N at 1-16 clients, batches in four shapes, 10k vs 1M scale (own server)"
	@echo "make bench-ab REF=commit   the single path against that commit's, alternating A B A B"
	@echo "make stress   32 sessions, 20,000 mixed operations, then invariant checks (own server;"
	@echo "             STRESS_ARGS=--cluster: on a throwaway Citus coordinator and 2 workers)"
	@echo "make generate write loyaltydb/api.py from loyaltydb/aio.py (make test checks they agree)"
	@echo "make schema   write sql/current/schema.sql from the migrations (make test checks it)"
	@echo "make migration NAME=x  the next migration pair from the changed sql/functions/<area>/ sources"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/loyaltydb demo

test: lint docs pytest

# The documentation site (docs/, mkdocs.yml) into site/; any warning fails the build.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

lint: $(STAMP)
	$(BIN)/python tools/async_to_sync.py --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Two pytest workers (pytest-xdist), each with its own throwaway servers: 7 minutes instead of
# 10 on 2 cores (3 workers were slower). PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 2

pytest: $(STAMP)
	$(BIN)/pytest $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS))

migrate: $(STAMP)
	$(BIN)/loyaltydb $(DSN_ARG) migrate

rollback: $(STAMP)
	$(BIN)/loyaltydb $(DSN_ARG) rollback $(if $(YES),--yes)

status: $(STAMP)
	$(BIN)/loyaltydb $(DSN_ARG) status

selfcheck: $(STAMP)
	$(BIN)/loyaltydb $(DSN_ARG) selfcheck

distribute: $(STAMP)
	$(BIN)/loyaltydb $(DSN_ARG) distribute

stress: $(STAMP)
	PYTHONPATH=tests $(BIN)/python -m benchmarks.stress --sessions $${SESSIONS:-32} --operations $${OPERATIONS:-20000} $(STRESS_ARGS)

BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $@

bench: $(BENCH_STAMP)
	PYTHONPATH=tests $(BIN)/python -m benchmarks.bench --scale $${SCALE:-100000} --scale-check "$${SCALE_CHECK-10000,1000000}" \
		$${BENCH_ARGS:-}

# The single path against another commit's, side by side: make bench-ab REF=eec7ab5
bench-ab: $(STAMP)
	PYTHONPATH=tests $(BIN)/python -m benchmarks.ab --ref '$(or $(REF),HEAD)' $${BENCH_ARGS:-}

generate: $(STAMP)
	$(BIN)/python tools/async_to_sync.py

schema: $(STAMP)
	PYTHONPATH=tools $(BIN)/python -m schema_dump --write

migration: $(STAMP)
	@test -n "$(NAME)" || { echo "usage: make migration NAME=snake_case_name" >&2; exit 2; }
	PYTHONPATH=tools $(BIN)/python tools/new_migration.py '$(NAME)'

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache site
