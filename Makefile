# Shortcuts for the README's commands. Each target creates .venv and installs
# the package first, so a fresh clone needs only Python 3.10+ with pip.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: setup demo test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(BIN)/python -m rbrl_ray.sweep --config tune_configs/demo.yaml

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check rbrl_ray tests bench

# Generated outputs only: results/ keeps the committed campaign records (the folders
# .gitignore lets in), and loses everything else in it (sweeps, runs, reports).
KEPT_RESULTS := campaign campaign_v2 rating_boundaries alpha_k

clean:
	rm -rf $(VENV) .pytest_cache
	[ ! -d results ] || find results -mindepth 1 -maxdepth 1 \
	    $(foreach kept,$(KEPT_RESULTS),! -name $(kept)) -exec rm -rf {} +
