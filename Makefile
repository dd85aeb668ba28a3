# Two commands for a fresh machine:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.aire-installed

.PHONY: setup demo test test-all bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml plugins/aire-inout-criterion/pyproject.toml plugins/aire-example/pyproject.toml backends/aire-cupy/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip "setuptools>=64"
	# torch first and pinned: a bare `torch` requirement would pull a multi-GB CUDA build
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet torch==2.13.0
	# the distribution was called `aire` before it became `aire-inr`: an old install would register every plugin twice
	$(BIN)/python -m pip uninstall --quiet --yes aire 2>/dev/null || true
	$(BIN)/python -m pip install --quiet -e ".[test,ray,exr,tensorboard,baselines]" -e plugins/aire-inout-criterion -e plugins/aire-example -e backends/aire-cupy
	touch $(STAMP)

demo: setup
	$(BIN)/aire demo --out runs/demo --overwrite

test: setup
	$(BIN)/python -m pytest -m "not slow" -q

test-all: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python -m benchmarks image prune-ablation speed --size cpu

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis
