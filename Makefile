# vlsafe — two commands on a fresh machine: `make smoke` (the main job) and `make test`.
# Both create .venv and install everything they need first (from PyPI only).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROFILE ?= small
EXPERIMENT ?= table1
JOBS ?= $(shell nproc 2>/dev/null || echo 1)
export VLSAFE_HOME ?= $(CURDIR)/data
# see benchmarks/wm_speed.py: busy-waiting OpenMP threads slow the recurrent loop ~10x on shared cores
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: install smoke test test-nb test-py export lab reproduce status worktree clean-data help

help:
	@echo "make smoke      install if needed, then run the smoke profile end to end (table + figure, under runs/)"
	@echo "make test       install if needed, then notebook tests (nbdev_test) and pytest"
	@echo "make install    create .venv and install vlsafe with its pinned dependencies"
	@echo "make reproduce  PROFILE=small EXPERIMENT=table1 [TASKS=four_lane]   one experiment at one profile (resumable)"
	@echo "make status     committed cells that the current code would compute differently (stale), and why"
	@echo "make worktree   REV=HEAD DIR=../vlsafe-sweep   a committed revision in its own folder, for a long sweep"
	@echo "make export     export notebooks to the package and clean them"
	@echo "make lab        JupyterLab on the notebooks"

install: $(STAMP)

# Reinstall whenever the dependency pins change.
$(STAMP): settings.ini setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip wheel setuptools
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

smoke: $(STAMP)
	$(BIN)/vlsafe smoke

test: $(STAMP) test-nb test-py

test-nb: $(STAMP)
	$(BIN)/nbdev_test --n_workers 2 --timing

test-py: $(STAMP)
	$(BIN)/python -m pytest -q tests

# TASKS, METHODS, SEEDS (space-separated) narrow the sweep, e.g. TASKS=four_lane SEEDS="0 1 2";
# JOBS cells run side by side, each on an equal share of the cores (default: one per core, the fastest on 2 cores)
reproduce: $(STAMP)
	$(BIN)/vlsafe reproduce --experiment $(EXPERIMENT) --profile $(PROFILE) \
		$(if $(TASKS),--tasks $(TASKS)) $(if $(METHODS),--methods $(METHODS)) $(if $(SEEDS),--seeds $(SEEDS)) \
		--jobs $(JOBS)

status: $(STAMP)
	$(BIN)/vlsafe status

# Canonical cells must come from a committed tree, and a sweep runs for hours: give it its own checkout at a commit
# and keep working here. It runs with this checkout's environment, importing the worktree's code.
DIR ?= ../vlsafe-sweep
REV ?= HEAD
worktree:
	git worktree add --detach $(DIR) $(REV)
	@echo "now: cd $(DIR) && PYTHONPATH=\$$PWD $(abspath $(BIN))/vlsafe reproduce --experiment ... --profile small --jobs 2"
	@echo "then commit its cells there (git switch -c <branch>) and bring them to main with git cherry-pick or merge"

export: $(STAMP)
	$(BIN)/nbdev_export
	$(BIN)/jupyter nbconvert --clear-output --inplace --log-level=ERROR nbs/*.ipynb nbs/experiments/*.ipynb
	$(BIN)/nbdev_clean

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=nbs

clean-data:
	rm -rf $(VLSAFE_HOME)
