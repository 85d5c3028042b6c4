# The two commands: `make demo` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOUSEHOLDS ?= 20000
MONTHS ?= 12
SEED ?= 7
WORKSPACE ?= var
SERVE ?= 1
PORT ?= 8000
PIP_FLAGS ?= --disable-pip-version-check -q

.PHONY: demo test venv bench clean readme

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_FLAGS) --upgrade pip

$(VENV)/.installed: $(BIN)/activate pyproject.toml constraints.txt
	$(BIN)/pip install $(PIP_FLAGS) -c constraints.txt -e '.[test,spark]'
	touch $@

venv: $(VENV)/.installed

demo: venv
	ASSIST_ENV=dev ASSIST_WORKSPACE=$(WORKSPACE) $(BIN)/assist demo --households $(HOUSEHOLDS) --months $(MONTHS) --seed $(SEED)
	ASSIST_ENV=dev ASSIST_WORKSPACE=$(WORKSPACE) $(BIN)/assist users demo
ifeq ($(SERVE),1)
	ASSIST_ENV=dev ASSIST_WORKSPACE=$(WORKSPACE) $(BIN)/assist serve --host 127.0.0.1 --port $(PORT)
endif

test: venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -n 2 --dist loadfile

bench: venv
	ASSIST_ENV=dev $(BIN)/python benchmarks/bench_ingest.py

readme: venv
	$(BIN)/assist readme-table --write README.md

clean:
	rm -rf $(VENV) $(WORKSPACE) .pytest_cache
