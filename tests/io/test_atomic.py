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
