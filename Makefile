# Two entry points for a newcomer: `make demo` and `make test`. Both build .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SHARED ?= ../shared/data

.PHONY: demo test lint bench fuzz clef-benchmark narrator-benchmark bundle-model setup clean

setup: $(STAMP)

# torch==2.13.0 goes in first: pip takes the local CPU build; any other spec would pull CUDA wheels.
$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The main job: a report (findings with evidence, narrative, HTML page) from the bundled model, for a phantom
# recording with known findings (its truth sidecar beside it) and, when ../shared is there, a real
# eyes-closed EEG. Open demo-out/*.report.html in a browser.
demo: $(STAMP)
	$(BIN)/neuronarrator phantom --findings focal_slowing:left:temporal,focal_epileptiform:left:temporal \
		--seed 3 --out demo-out/phantom.edf --force
	@files="demo-out/phantom.edf"; \
	if [ -f $(SHARED)/eegmmidb/S001R02.edf ]; then files="$$files $(SHARED)/eegmmidb/S001R02.edf"; \
	else echo "($(SHARED) not found: reporting the phantom only)"; fi; \
	$(BIN)/neuronarrator report $$files --out demo-out --force

# Headless Chromium for tests/browser (the HTML report and the web app in a real browser): Debian's chromium
# and chromium-driver. Without root or the Debian mirror the install fails with a message and those tests
# skip, saying why.
BROWSER := /usr/bin/chromedriver
$(BROWSER):
	-@(apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	  (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium chromium-driver >/dev/null 2>&1)) || \
	  echo "could not install Debian's chromium and chromium-driver: tests/browser will be skipped"

test: $(STAMP) $(BROWSER)
	$(BIN)/ruff check src tests bench fuzz
	$(BIN)/python -m pytest -q

# Fuzz the readers and the harmonizer (fuzz/fuzz_readers.py; docs/fuzzing.md): byte mutations of the seed
# files and Hypothesis header mutations, each case a valid result or a project error. About 1-2 minutes.
FUZZ_CASES ?= 5000
FUZZ_SEED ?= 0
fuzz: $(STAMP)
	$(BIN)/python fuzz/fuzz_readers.py --cases $(FUZZ_CASES) --seed $(FUZZ_SEED) --out fuzz/report.json

bench: $(STAMP)
	$(BIN)/python bench/bench_multitaper.py
	$(BIN)/python bench/bench_inspect.py
	$(BIN)/python bench/bench_phantom.py
	$(BIN)/python bench/bench_narrate.py
	$(BIN)/python bench/bench_ddp.py
	$(BIN)/python bench/bench_long_recording.py
	$(BIN)/python bench/bench_serve_load.py

# CLEF end to end on the phantom (configs/clef-tiny.yaml): corpora, the three training stages, then the
# benchmark table docs/clef-benchmark.md (+ .json). About 15-20 minutes on 2 CPU cores.
CLEF_CONFIG ?= configs/clef-tiny.yaml
clef-benchmark: $(STAMP)
	$(BIN)/neuronarrator corpus build 'phantom?sessions=300&duration_s=60' --out data/clef/phantom --splits 0.6,0.1,0.3
	$(BIN)/neuronarrator corpus build 'phantom?sessions=120&duration_s=60&shift=1' --out data/clef/phantom-shift
	$(BIN)/neuronarrator train tokenizer --config $(CLEF_CONFIG)
	$(BIN)/neuronarrator train session --config $(CLEF_CONFIG)
	$(BIN)/neuronarrator train align --config $(CLEF_CONFIG)
	$(BIN)/neuronarrator evaluate --suite clef --config $(CLEF_CONFIG) --out docs/clef-benchmark.md --force

# NeuroNarrator end to end on the phantom (configs/narrator-tiny.yaml): corpora, stage 1 and the narrator
# (`train all`: resumable, finished stages skipped), then docs/narrator-benchmark.md (+ .json).
NARRATOR_CONFIG ?= configs/narrator-tiny.yaml
narrator-benchmark: $(STAMP)
	$(BIN)/neuronarrator corpus build 'phantom?sessions=4000&duration_s=60&ecg_lead=1' --out data/narrator/phantom-4k
	$(BIN)/neuronarrator corpus build 'phantom?sessions=300&duration_s=60&shift=1&ecg_lead=1' --out data/narrator/phantom-shifted-300
	$(BIN)/neuronarrator train all --config $(NARRATOR_CONFIG)
	$(BIN)/neuronarrator evaluate --suite narrator --config $(NARRATOR_CONFIG) --out docs/narrator-benchmark.md --force

# The model the package ships (src/neuronarrator/data/model): exported from the checkpoints that
# narrator-benchmark's `train all` wrote (inference weights, tokenizer, MODEL.json with the commands).
MODEL_DIR := src/neuronarrator/data/model
bundle-model: $(STAMP)
	$(BIN)/neuronarrator export-model --config $(NARRATOR_CONFIG) --out $(MODEL_DIR) --force

clean:
	rm -rf $(VENV) demo-out .pytest_cache
