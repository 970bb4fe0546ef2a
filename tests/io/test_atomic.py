"""atomic_output: all or nothing, no overwrite without force, and the mode a plain open() would give."""

from __future__ import annotations

import os

import pytest

from neuronarrator.io.atomic import atomic_output
from neuronarrator.io.errors import OutputExistsError


def test_written_file_has_umask_mode_not_mkstemp_0600(tmp_path):
    umask = os.umask(0o022)
    try:
        with atomic_output(tmp_path / "out.txt") as tmp:
            tmp.write_text("x")
    finally:
        os.umask(umask)
    assert (tmp_path / "out.txt").stat().st_mode & 0o777 == 0o644


def test_failure_leaves_nothing_and_existing_file_is_kept(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer failed")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    target.write_text("old")
    with pytest.raises(OutputExistsError):
        with atomic_output(target):
            pass
    assert target.read_text() == "old"


def test_a_killed_writers_temporary_file_is_removed_by_the_next_write_a_live_ones_kept(tmp_path):
    import subprocess
    import sys

    target = tmp_path / "out.json"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".out.json.{int(dead.stdout)}-abc123.partial.json"  # a writer killed mid-write
    stale.write_text('{"half')
    live = tmp_path / f".out.json.{os.getppid()}-def456.partial.json"  # a writer still running
    live.write_text('{"also half')
    other = tmp_path / f".other.json.{int(dead.stdout)}-abc123.partial.json"  # another output's
    other.write_text("{")
    with atomic_output(target) as tmp:
        assert tmp.name.startswith(f".out.json.{os.getpid()}-") and tmp.name.endswith(".partial.json")
        tmp.write_text("{}")
    assert target.read_text() == "{}"
    assert not stale.exists() and live.exists() and other.exists()
