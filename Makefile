# The targets README.md names. Everything runs from the project's own .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export MUJOCO_GL ?= egl
export PYOPENGL_PLATFORM ?= egl

.PHONY: setup check-system run test bench clean-venv

setup: check-system $(STAMP)

# Reinstall whenever pyproject.toml changes. torch/torchvision come from PyPI as a matched pair (pyproject.toml).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

# MuJoCo renders offscreen through EGL; on a machine without a GPU that is Mesa's software driver.
check-system:
	@bash scripts/check_system.sh

run: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/rrl-pipe --help >/dev/null && echo "benchmarks arrive with the render and encode stages"

clean-venv:
	rm -rf $(VENV)
