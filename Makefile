# faultlab: the two set-up commands of the README live here.
#   make demo   installs faultlab into .venv and runs `faultlab demo`
#   make test   installs Debian packages (apt-get), faultlab and its test tools, runs the whole suite
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test check system-packages clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/faultlab demo

system-packages:
	scripts/install-system-packages

check: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: system-packages $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -n auto --dist loadgroup

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
