# One command per verb. The README shows `make run` and `make test`; CI runs `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup system-deps test lint format migrate run bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py $(wildcard ingest/_*.pyx)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

system-deps:
	scripts/install-system-deps

test: system-deps setup  # the compiler first: setup builds the compiled fast paths with it
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrate: setup
	$(BIN)/alembic upgrade head
	DJANGO_DEBUG=1 $(BIN)/python manage.py migrate --verbosity 0

run: setup
	$(BIN)/python scripts/demo.py

bench: setup
	$(BIN)/python bench/ingest.py

clean:
	rm -rf var .pytest_cache .ruff_cache
