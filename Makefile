# Two entry points for a fresh machine: `make train` and `make test` (each installs what it needs first).
VENV ?= .venv
PY := $(VENV)/bin/python
ARGS ?=

.PHONY: install train studio test lint clean

# torch==2.13.0 first: the local CPU build. A bare `torch` requirement would pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

train: install
	$(PY) scripts/train.py $(ARGS)

lint: install
	$(VENV)/bin/ruff check src tests scripts benchmarks
	$(VENV)/bin/ruff format --check src tests scripts benchmarks

# The web page on a trained checkpoint: make studio CKPT=outputs/<run>/checkpoints/last.ckpt
studio: install
	$(if $(CKPT),,$(error give the checkpoint: make studio CKPT=outputs/<run>/checkpoints/last.ckpt))
	$(PY) scripts/studio.py ckpt_path=$(CKPT) $(ARGS)

test: lint
	$(PY) -m pytest

clean:
	rm -rf $(VENV) outputs .pytest_cache .ruff_cache
