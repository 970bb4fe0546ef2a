"""The sleep-edf source: PSG/hypnogram pairing, per-epoch states, the bipolar view, patients by subject."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from neuronarrator.corpus.sources import get_source, sleep_edf
from neuronarrator.corpus.sources.base import SEGMENT_S, SFREQ_HZ
from neuronarrator.io.write import write_edf

START = dt.datetime(1989, 4, 24, 16, 13, 0)
PATIENT = {"code": "X", "sex": "F", "birthdate": None, "name": "Female_33yr"}


def _psg(path: Path, duration_s: float = 90.0) -> Path:
    rng = np.random.default_rng(0)
    t = np.arange(int(duration_s * 100)) / 100
    data = 30 * np.sin(2 * np.pi * 10 * t) + 10 * rng.standard_normal((2, t.size))
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_edf(path, data, 100.0, ["EEG Fpz-Cz", "EEG Pz-Oz"], patient=PATIENT, start=START)


def _hypnogram(path: Path, stages, start: dt.datetime = START) -> Path:
    # Real hypnograms hold annotations only; one flat dummy signal carries them here.
    return write_edf(path, np.zeros((1, 200 * 100)), 100.0, ["Event marker"], events=stages, start=start)


def test_real_excerpt_is_awake_for_thirty_segments(shared_data: Path) -> None:
    (item,) = get_source("sleep-edf").list_items(shared_data / "sleep-edf")
    assert item.key == "SC4001E0-PSG_first300s.edf"
    assert item.patient == "sleep-edf:SC00"
    assert item.options["hypnogram"] == "SC4001EC-Hypnogram.edf" and item.options["night"] == 1
    data = sleep_edf.load(item)
    assert data.montage == "bipolar" and data.data_uv.shape == (18, int(300 * SFREQ_HZ))
    assert data.data_uv.shape[1] // int(SEGMENT_S * SFREQ_HZ) == 30
    assert data.findings.state == "awake" and data.findings.findings == ()
    assert [s.state for s in data.findings.state_timeline] == ["awake"] * 10
    assert data.meta["labels"]["state_known"] and not data.meta["labels"]["impression_known"]
    # Fpz-Cz and Pz-Oz lie outside the double banana: every row masked, the two kept as extras
    assert not data.channel_mask.any() and data.meta["extra_channels"] == ["Fpz-Cz", "Pz-Oz"]
    assert data.ehr == {"age_years": 33.0, "sex": "female", "icd10": [], "atc": []}
    assert data.narrative_origin == "none"


def test_pairing_states_offsets_and_patients(tmp_path: Path) -> None:
    _psg(tmp_path / "sc" / "SC4011E0-PSG.edf")
    _hypnogram(
        tmp_path / "sc" / "SC4011EC-Hypnogram.edf",
        [(0.0, 30.0, "Sleep stage W"), (30.0, 60.0, "Sleep stage 2"), (90.0, 30.0, "Movement time")],
    )
    _psg(tmp_path / "sc" / "SC4012E0-PSG.edf")  # night 2 of the same subject, no hypnogram
    _psg(tmp_path / "st" / "ST7022J0-PSG.edf")
    # this hypnogram starts 30 s after its PSG: its onsets move 30 s later on the PSG's axis
    _hypnogram(
        tmp_path / "st" / "ST7022JR-Hypnogram.edf",
        [(0.0, 30.0, "Sleep stage R"), (30.0, 30.0, "Sleep stage 4")],
        start=START + dt.timedelta(seconds=30),
    )
    items = list(sleep_edf.list_items(tmp_path))
    assert [i.key for i in items] == ["sc/SC4011E0-PSG.edf", "sc/SC4012E0-PSG.edf", "st/ST7022J0-PSG.edf"]
    assert [i.patient for i in items] == ["sleep-edf:SC01", "sleep-edf:SC01", "sleep-edf:ST02"]
    assert [i.options["hypnogram"] for i in items] == [
        "sc/SC4011EC-Hypnogram.edf",
        None,
        "st/ST7022JR-Hypnogram.edf",
    ]

    first = sleep_edf.load(items[0])
    assert [s.state for s in first.findings.state_timeline] == ["awake", "n2", "n2"]
    assert first.findings.state == "n2"
    assert first.meta["labels"]["mapped"] == {"Sleep stage W": 1, "Sleep stage 2": 1}

    unscored = sleep_edf.load(items[1])
    assert unscored.findings.state_timeline == () and not unscored.meta["labels"]["state_known"]

    shifted = sleep_edf.load(items[2])
    assert [(s.start_s, s.state) for s in shifted.findings.state_timeline] == [(30.0, "rem"), (60.0, "n3")]
