# Everything runs in .venv, created on first use with only python3 (>= 3.10).
# editable_mode=compat: a .pth path entry instead of an import hook (10 ms off every start-up).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# setuptools prints a boxed SetuptoolsDeprecationWarning ("Compat editable installs") for compat mode on every
# install; the mode is chosen on purpose, so the build runs with that one warning silenced.
QUIET_BUILD := PYTHONWARNINGS="ignore:Compat editable installs"
# torch is pinned: a plain `torch` would pull a multi-GB CUDA build; 2.13.0 is a local CPU wheel.
TORCH  := torch==2.13.0

.PHONY: run test lint bench docs test-frameworks clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(QUIET_BUILD) $(BIN)/python -m pip install -q -e . --config-settings editable_mode=compat
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(QUIET_BUILD) $(BIN)/python -m pip install -q -e '.[dev,torch,plot,keras-files,onnx,flax-files]' --config-settings editable_mode=compat
	touch $(VENV)/.installed $@

run: $(VENV)/.installed
	$(BIN)/kaiming check --shape 64,3,3,3 --mode fan_out --nonlinearity relu

test: lint
	$(BIN)/python -m pytest -q

# ruff, mypy --strict, and the architecture's import contracts (pyproject.toml, docs/design.md).
lint: $(VENV)/.dev
	$(BIN)/ruff check kaiming_cli tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

# bench/run.py prints, and writes to bench/results.md and docs/performance.md; the bench extra is py-spy (profile)
# and safetensors (the checkpoints of many small tensors, bench/realmodels.py)
$(VENV)/.bench: pyproject.toml | $(VENV)/.dev
	$(QUIET_BUILD) $(BIN)/python -m pip install -q -e '.[bench]' --config-settings editable_mode=compat
	touch $@

bench: $(VENV)/.dev $(VENV)/.bench
	$(BIN)/python bench/run.py

# rewrites the --help blocks of docs/cli.md from the real CLI (tests/test_docs.py fails when they are stale)
# and the README's example outputs (tests/test_readme.py; blocks with a `...` elision are edited by hand)
docs: $(VENV)/.dev
	$(BIN)/python tests/docs_help.py --write
	$(BIN)/python tests/docs_readme.py --write

test-frameworks: $(VENV)/.dev
	$(BIN)/python -m pip install -q jax jaxlib keras flax "transformers==5.25.0" timm "torchvision==0.28.0"
	KERAS_BACKEND=numpy $(BIN)/python -m pytest -q -m frameworks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
