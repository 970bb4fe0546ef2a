"""Evaluation sets: the EEGMMI eyes-open/closed crops, and a clear error when a run is missing."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from neuronarrator.eval.sets import CROP_S, EEGMMI_RUNS, eegmmi_set


def test_eegmmi_crops(shared_data):
    directory = shared_data / "eegmmidb"
    if not all((directory / name).is_file() for name in EEGMMI_RUNS):
        pytest.skip(f"{directory} lacks {', '.join(EEGMMI_RUNS)}")
    s = eegmmi_set(directory)
    assert s.name == "eegmmi" and len(s) == 12  # two 61-s runs, six whole 10-s crops each
    for session in s.sessions:
        assert session.data_uv.shape == (19, int(CROP_S * 200)) and session.data_uv.dtype == np.float32
        assert session.duration_s == CROP_S and session.montage == "referential"
        assert session.channel_mask.shape == (19,) and session.channel_mask.dtype == bool
        assert np.isfinite(session.data_uv).all()
    y = s.labels["eyes_closed"]
    assert set(s.labels) == {"eyes_closed"}
    assert int(y.sum()) == 6 and int((y == 0).sum()) == 6
    assert [x.session_id for x in s.sessions[:2]] == ["S001R01.edf#0", "S001R01.edf#1"]
    assert s.sessions[6].session_id == "S001R02.edf#0" and y[6] == 1.0 and y[0] == 0.0
    # crop k of the eyes-open run pairs with crop k of the eyes-closed run
    assert len(np.unique(s.groups)) == 6
    for pair in np.unique(s.groups):
        assert sorted(y[s.groups == pair].tolist()) == [0.0, 1.0]
    assert np.array_equal(s.extra["pairs"], s.groups)
    assert "one subject" in s.description


def test_eegmmi_empty_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="S001R01.edf: the EEGMMI run is missing"):
        eegmmi_set(tmp_path)


def test_eegmmi_second_run_missing(tmp_path, shared_data):
    source = shared_data / "eegmmidb" / "S001R01.edf"
    if not source.is_file():
        pytest.skip(f"{source} is absent")
    shutil.copy(source, tmp_path / "S001R01.edf")
    with pytest.raises(FileNotFoundError, match="S001R02.edf.*missing"):
        eegmmi_set(tmp_path)
