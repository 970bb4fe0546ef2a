# Two entry points for a newcomer: `make demo` and `make test`. Both build .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SHARED ?= ../shared/data

.PHONY: demo test lint bench setup clean

setup: $(STAMP)

# torch==2.13.0 goes in first: pip takes the local CPU build; any other spec would pull CUDA wheels.
$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/neuronarrator inspect $(SHARED)/eegmmidb/S001R02.edf
	$(BIN)/neuronarrator spectrogram $(SHARED)/eegmmidb/S001R02.edf --out demo-out/S001R02-spectrogram.npz --force

test: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/bench_multitaper.py

clean:
	rm -rf $(VENV) demo-out .pytest_cache
