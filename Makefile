# Two commands do all set-up on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/feedbot demo

test: $(BIN)/.installed
	$(BIN)/pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check bot adapters storage tests bench
	$(BIN)/ruff format --check bot adapters storage tests bench
	$(BIN)/mypy

bench: $(BIN)/.installed
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/delivery.py
	$(BIN)/python bench/discord_dms.py
	$(BIN)/python bench/digest.py
	$(BIN)/python bench/shutdown.py
	$(BIN)/python bench/scale_out.py p1
	$(BIN)/python bench/scale_out.py p1 --uncapped
	$(BIN)/python bench/scale_out.py p4 --seconds 120
	$(BIN)/python bench/scale_out.py p5
	$(BIN)/python bench/scale_out.py failover

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache
