# LabelPilot: `make demo` runs the demo, `make test` runs every test; both set up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup venv binaries datasets labelstudio test unit lint demo bench manifests crd clean-cluster

setup: venv binaries datasets labelstudio

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[worker,dev]'
	touch $(STAMP)

venv: $(STAMP)

binaries:
	bash hack/build-binaries.sh

datasets: venv
	$(BIN)/labelpilot datasets fetch

labelstudio:
	PYTHON=$(PYTHON) bash hack/install-label-studio.sh

test: setup
	$(BIN)/ruff check operator tests benchmarks
	$(BIN)/pytest

unit: venv
	$(BIN)/pytest tests/unit

lint: venv
	$(BIN)/ruff check operator tests benchmarks

demo: setup
	bash hack/demo.sh

bench: setup
	$(BIN)/python -m benchmarks.run_all

manifests: binaries
	bash hack/render-manifests.sh deploy/install.yaml

crd: venv
	$(BIN)/labelpilot crd --out crds/labelpilot.dev_labelingjobs.yaml
	cp crds/labelpilot.dev_labelingjobs.yaml charts/labelpilot/crds/

clean-cluster: venv
	$(BIN)/labelpilot dev-cluster down
