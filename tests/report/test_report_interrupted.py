"""``neuronarrator report`` killed outright at the worst moment -- one output renamed into place, the next
written but not yet renamed -- leaves only complete files under their real names; the rerun refuses to
overwrite them unasked, and with --force finishes the job and removes the dead run's temporary file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from neuronarrator.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# The report command in a child process whose second atomic rename never happens: SIGKILL first.
_KILLED_AT_SECOND_RENAME = """
import os, signal, sys
from neuronarrator.cli import main
real_replace, calls = os.replace, []
def replace(src, dst):
    calls.append(dst)
    if len(calls) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(src, dst)
os.replace = replace
sys.exit(main(sys.argv[1:]))
"""


def _visible(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*") if p.is_file() and not p.name.startswith("."))


def _complete(path: Path) -> bool:
    text = path.read_text(errors="replace")
    if path.suffix == ".json":
        json.loads(text)
        return True
    if path.suffix == ".html":
        return text.rstrip().endswith("</html>")
    return path.stat().st_size > 0


@pytest.mark.slow
def test_a_report_killed_between_two_renames_leaves_complete_files_only(tiny_model_dir, phantom_edfs, tmp_path):
    out = tmp_path / "out"
    args = ["report", str(phantom_edfs["a"]), "--out", str(out), "--json", "--fhir", "--model", str(tiny_model_dir)]
    killed = subprocess.run([sys.executable, "-c", _KILLED_AT_SECOND_RENAME, *args], capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr[-3000:]

    written = _visible(out)
    hidden = [p for p in out.rglob(".*") if p.is_file()]
    assert len(written) == 1 and _complete(written[0]), written  # the first output, whole
    assert len(hidden) == 1 and ".partial" in hidden[0].name  # the second, never renamed: not an output

    # the rerun does not overwrite what exists unasked ...
    assert main(args) != 0
    assert _visible(out) == written
    # ... and with --force writes every output whole and cleans up after the dead run
    assert main([*args, "--force"]) == 0
    outputs = _visible(out)
    assert len(outputs) >= 3 and all(_complete(p) for p in outputs)
    assert [p for p in out.rglob(".*") if p.is_file()] == []
