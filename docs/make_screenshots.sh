#!/usr/bin/env bash
# The screenshots in docs/screenshots/: the browser tests (tests/browser) run against the *bundled* model,
# saving each page they visit (the report page, the web app's upload page, its report and its EEG viewer).
# Needs Debian's chromium and chromium-driver (make test installs them) and the .venv of make setup.
set -euo pipefail
cd "$(dirname "$0")/.."
NEURONARRATOR_SCREENSHOT_DIR=docs/screenshots .venv/bin/python -m pytest -q tests/browser
ls -l docs/screenshots
