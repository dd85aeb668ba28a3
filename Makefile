# Two commands for a fresh machine:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.aire-installed

MIN_VENV ?= .venv-min
# the extras a development checkout installs (make test-min installs the same ones, at their floors, plus docs)
EXTRAS  = test,ray,exr,tensorboard,baselines

.PHONY: setup demo test test-all test-min bench docs clean

setup: $(STAMP)

$(STAMP): pyproject.toml plugins/aire-inout-criterion/pyproject.toml plugins/aire-example/pyproject.toml backends/aire-cupy/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip "setuptools>=64"
	# torch first and pinned: a bare `torch` requirement would pull a multi-GB CUDA build
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet torch==2.13.0
	# the distribution was called `aire` before it became `aire-inr`: an old install would register every plugin twice
	$(BIN)/python -m pip uninstall --quiet --yes aire 2>/dev/null || true
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]" -e plugins/aire-inout-criterion -e plugins/aire-example -e backends/aire-cupy
	touch $(STAMP)

demo: setup
	$(BIN)/aire demo --out runs/demo --overwrite

# The docs site (mkdocs.yml, docs/): a strict build into site/, nothing downloaded; the docs extra is
# installed into .venv on first use
DOCS_STAMP = $(VENV)/.aire-docs-installed

$(DOCS_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[docs]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

test: setup
	$(BIN)/python -m pytest -m "not slow" -q

test-all: setup
	$(BIN)/python -m pytest -q

# The dependency floors are true: a fresh $(MIN_VENV) with every dependency at the lower bound that
# pyproject.toml (and plugins/, backends/) declare, exactly (tools/min_constraints.py writes the pip
# constraints), then the default tests. torch's floor is 2.13 because 2.13.0 (CPU) is the only torch
# this project's machines install without a multi-GB CUDA build, so no older one has been tested.
test-min:
	rm -rf $(MIN_VENV)
	$(PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/python -m pip install --quiet --upgrade pip "setuptools>=64"
	$(MIN_VENV)/bin/python tools/min_constraints.py > $(MIN_VENV)/constraints.txt
	$(MIN_VENV)/bin/python -m pip install --quiet -c $(MIN_VENV)/constraints.txt torch
	$(MIN_VENV)/bin/python -m pip install --quiet -c $(MIN_VENV)/constraints.txt -e ".[$(EXTRAS),docs]" \
		-e plugins/aire-inout-criterion -e plugins/aire-example -e backends/aire-cupy
	$(MIN_VENV)/bin/python tools/min_constraints.py --check
	# its own example database: examples saved by .venv's newer hypothesis do not replay in older ones
	HYPOTHESIS_STORAGE_DIRECTORY=$(MIN_VENV)/hypothesis $(MIN_VENV)/bin/python -m pytest -m "not slow" -q -p no:cacheprovider
	$(MIN_VENV)/bin/mkdocs build --strict --site-dir $(MIN_VENV)/site

bench: setup
	$(BIN)/python -m benchmarks image prune-ablation speed --size cpu

clean:
	rm -rf $(VENV) $(MIN_VENV) runs site .pytest_cache .hypothesis
