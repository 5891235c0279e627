# LabelPilot: `make demo` runs the demo, `make test` runs every test; both set up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONSTRAINTS := requirements/constraints.txt
PYTHON_TREES := operator tests benchmarks devcluster
export PATH := $(CURDIR)/$(BIN):$(PATH)
# Every pip install of the project, its build backend's included, takes the locked versions.
INSTALL := PIP_CONSTRAINT=$(CURDIR)/$(CONSTRAINTS) $(BIN)/pip install -q
# `make lock` keeps the pins and adds what is new; `make lock UPGRADE=1` moves every pin
# to the newest version the registry serves.
COMPILE := $(BIN)/uv pip compile --universal --python-version 3.11 -q \
	--custom-compile-command 'make lock' $(if $(UPGRADE),--upgrade)

.PHONY: setup venv binaries datasets labelstudio engine host-packages images test unit lint demo bench manifests crd \
	clean-cluster lock

setup: venv binaries datasets labelstudio engine host-packages

$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(INSTALL) --upgrade pip
	$(INSTALL) -e '.[worker,s3,dev]'
	touch $(STAMP)

venv: $(STAMP)

binaries:
	bash hack/build-binaries.sh
	bash hack/build-kstatus.sh

datasets: venv
	$(BIN)/labelpilot datasets fetch

labelstudio:
	PYTHON=$(PYTHON) bash hack/install-label-studio.sh

engine:
	bash hack/docker-engine.sh

host-packages:
	bash hack/host-packages.sh

images: engine
	bash hack/build-images.sh

test: setup lint
	$(BIN)/pytest

unit: venv
	$(BIN)/pytest tests/unit

# Style, format and types (mypy: strict for labelpilot.api and labelpilot.controller;
# pyproject.toml's [tool.mypy] says what else it checks and how).
lint: venv
	$(BIN)/ruff check $(PYTHON_TREES)
	$(BIN)/ruff format --check $(PYTHON_TREES)
	$(BIN)/mypy

demo: setup
	bash hack/demo.sh

bench: setup
	$(BIN)/python -m benchmarks.run_all

manifests: binaries
	bash hack/render-manifests.sh deploy/install.yaml

crd: venv
	$(BIN)/labelpilot crd --out crds/labelpilot.dev_labelingjobs.yaml
	cp crds/labelpilot.dev_labelingjobs.yaml charts/labelpilot/crds/

lock: venv
	$(COMPILE) pyproject.toml requirements/installers.in --extra worker --extra s3 --extra dev \
		-o $(CONSTRAINTS)
	$(COMPILE) requirements/label-studio.in requirements/installers.in \
		-o requirements/label-studio.txt

clean-cluster: venv
	$(BIN)/python -m devcluster down
