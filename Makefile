# The targets README.md names. Everything runs from the project's own .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export MUJOCO_GL ?= egl
export PYOPENGL_PLATFORM ?= egl

.PHONY: setup check-system run test test-fast lint bench clean-venv

setup: check-system $(STAMP)

# Reinstall whenever pyproject.toml changes. torch/torchvision come from PyPI as a matched pair (pyproject.toml).
# The export tests' readers (robomimic, LeRobot) come without their declared dependencies (requirements/interop.txt).
$(STAMP): pyproject.toml requirements/interop.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,ray,dev]"
	$(BIN)/pip install --quiet --no-deps -r requirements/interop.txt
	touch $(STAMP)

# MuJoCo renders offscreen through EGL; on a machine without a GPU that is Mesa's software driver.
check-system:
	@bash scripts/check_system.sh

run: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro

test: setup
	$(BIN)/python -m pytest -q

# The inner loop: everything but the end-to-end benchmark smoke runs, the Ray backend and real DVC runs.
test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow and not ray and not dvc"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

# Ratios measured in one run each (ours vs ceiling vs naive); a few minutes each on a 2-core CPU.
bench: setup
	$(BIN)/rrl-pipe bench render
	$(BIN)/rrl-pipe bench encode --model resnet34 --batch-size 16 --batch-size 32
	$(BIN)/rrl-pipe bench sample --model resnet18 --workers 2

clean-venv:
	rm -rf $(VENV)
