# The two set-up commands: `make demo` and `make test`. Both create .venv when needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-torch fuzz-long lint bench bench-full bench-cohort soak clean

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

# The examples' tests with PyTorch too (hello-pt): `make test` installs only .[dev], where
# they are skipped, so that the gate does not pull a deep-learning framework.
test-torch: $(BIN)/.installed
	$(BIN)/python -m pip install -q -e '.[dev,torch]'
	$(BIN)/pytest -p no:xdist tests/examples -q

# The published scaleout client (seed 004), for tests/edge/test_published_client.py: its own
# venv, not a test dependency (Python >= 3.12; grpcio, protobuf, cryptography, numpy 2.5).
# The first python3.12/3.13 that runs: a pyenv shim of a version that is installed but not
# selected is on PATH and fails, so pyenv's own installs are tried too.
SCALEOUT_PYTHON ?= $(shell for p in python3.12 python3.13 $$HOME/.pyenv/versions/3.1[23]*/bin/python3; \
	do $$p -c '' 2>/dev/null && command -v $$p && break; done)
.venv-scaleout:
	$(SCALEOUT_PYTHON) -m venv .venv-scaleout
	.venv-scaleout/bin/python -m pip install -q scaleout==1.1.0

# The schemathesis fuzz runs of the admin and REST APIs with ten times the cases, new ones
# each run (tests/fuzzing.py); part of the soak run, not of `make test`. Tens of minutes.
fuzz-long: $(BIN)/.installed
	COHORT_FUZZ_LONG=1 $(BIN)/pytest -p no:randomly -q tests/integration/test_admin_fuzz.py tests/rest/test_fuzz.py

# Side by side with Flower and NVIDIA FLARE (installed once into bench-cache/): minutes.
bench: $(BIN)/.installed
	$(BIN)/python benchmarks/bench.py --quick

# Every site count (2, 8, 32) and 3 repeats: hours on a 2-core machine.
bench-full: $(BIN)/.installed
	$(BIN)/python benchmarks/bench.py

# Soak (not part of `make test`): a 2.5 GB model through 2 sites (~14 GB of memory, ~15 GB
# of disk under /tmp while it runs), then 200 short rounds with 4 sites. See benchmarks/README.md.
soak: $(BIN)/.installed
	$(BIN)/python benchmarks/soak.py big --mb 2560 --sites 2 --rounds 2
	$(BIN)/python benchmarks/soak.py long --rounds 200 --sites 4

# Cohort alone, no peers: round overhead, POC start-up and the aggregation rules.
bench-cohort: $(BIN)/.installed
	$(BIN)/python benchmarks/round_overhead.py --sites 2 --params 1000 --rounds 6 --repeat 3
	$(BIN)/python benchmarks/round_overhead.py --sites 3 --params 1000000 --rounds 6 --repeat 3
	$(BIN)/python benchmarks/aggregators.py --params 1000000 --updates 10

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .venv-scaleout .pytest_cache .mypy_cache .ruff_cache
