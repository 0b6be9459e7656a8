# The two set-up commands: `make demo` and `make test`. Both create .venv when needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench bench-full clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/python examples/hello-numpy/demo.py

test: $(BIN)/.installed
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/ruff format --check src tests examples benchmarks
	$(BIN)/mypy
	$(BIN)/pytest -n 2 --dist loadgroup

# Side by side with Flower and NVIDIA FLARE (installed once into bench-cache/): minutes.
bench: $(BIN)/.installed
	$(BIN)/python benchmarks/bench.py --quick

# Every site count (2, 8, 32) and 3 repeats: hours on a 2-core machine.
bench-full: $(BIN)/.installed
	$(BIN)/python benchmarks/bench.py

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
