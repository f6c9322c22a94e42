# Two set-up-free commands: `make run` (the default study, end to end) and `make test` (the test suite).
# Both create .venv on first use and install the project into it (torch 2.14.1 / torchvision 0.29.1 pinned).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
CORES  ?= $(shell nproc 2>/dev/null || echo 2)
STAMP  := $(VENV)/.installed
CONFIG ?= config/config.yaml
STUDY  ?= default

.PHONY: run test venv report clean-study

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP)

## run: the default study on the embedded dataset: tables, figures and the HTML report under results/
run: $(STAMP)
	$(BIN)/snakemake --configfile $(CONFIG) --cores $(CORES) --rerun-incomplete
	$(BIN)/snakemake --configfile $(CONFIG) --report results/$(STUDY)/report.html

## test: the test suite (unit tests, workflow end to end)
test: $(STAMP)
	$(BIN)/python -m pytest

## clean-study: remove the outputs and logs of one study (STUDY=name)
clean-study:
	rm -rf results/$(STUDY) logs/$(STUDY)
