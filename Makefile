# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Extra arguments for twistd's sequenzia plugin, e.g. make run ARGS="--listen tcp:9000"
ARGS   ?=
# Extra arguments for pytest, e.g. make test PYTEST_ARGS="-k config -x"
PYTEST_ARGS ?=

.PHONY: run test lint type bench clean

# compat mode: the PEP 660 editable hook would hide twisted/plugins/ from twistd (NOTES.md).
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --config-settings editable_mode=compat -e '.[dev]'
	touch $@

run: $(BIN)/.installed
	$(BIN)/twistd --nodaemon --pidfile= sequenzia $(ARGS)

test: $(BIN)/.installed
	$(BIN)/pytest $(PYTEST_ARGS)
	$(BIN)/ruff check .
	$(BIN)/mypy

lint: $(BIN)/.installed
	$(BIN)/ruff check .

type: $(BIN)/.installed
	$(BIN)/mypy

bench: $(BIN)/.installed
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache twisted/plugins/dropin.cache
