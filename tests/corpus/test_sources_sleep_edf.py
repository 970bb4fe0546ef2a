"""The sleep-edf source: PSG/hypnogram pairing, per-epoch states, the bipolar view, patients by subject."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from neuronarrator.corpus.build import build_corpus
from neuronarrator.corpus.datasets import SegmentDataset
from neuronarrator.corpus.manifest import read_table
from neuronarrator.corpus.sources import get_source, sleep_edf
from neuronarrator.corpus.sources.base import SEGMENT_S, SFREQ_HZ
from neuronarrator.corpus.store import ShardReader, shard_path
from neuronarrator.corpus.verify import verify_corpus
from neuronarrator.io.harmonize import harmonize
from neuronarrator.io.read import read_recording
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
    assert data.meta["labels"]["state_known"] and not data.knows_impression and not data.labels_complete
    # Fpz-Cz and Pz-Oz lie outside the double banana: every row masked, the two kept as extras
    assert not data.channel_mask.any() and data.extra_channels == ("Fpz-Cz", "Pz-Oz")
    assert data.extra_uv.shape == (2, int(300 * SFREQ_HZ)) and data.extra_uv.dtype == np.float32
    np.testing.assert_array_equal(
        data.extra_uv, harmonize(read_recording(shared_data / "sleep-edf" / item.key)).extra_uv
    )
    assert data.ehr == {"age_years": 33.0, "sex": "female", "icd10": [], "atc": []}
    assert (data.narrative, data.narrative_origin) == ("", "none")


def test_real_excerpt_corpus_keeps_fpz_cz_and_pz_oz_and_invents_no_narrative(
    shared_data: Path, tmp_path: Path
) -> None:
    root = shared_data / "sleep-edf"
    if not root.is_dir():
        pytest.skip(f"{root} is absent")
    report = build_corpus([("sleep-edf", root, {})], tmp_path / "c", scheduler="synchronous")
    assert (report.sessions, report.segments) == (1, 30)
    assert verify_corpus(tmp_path / "c") == []
    rows = read_table(tmp_path / "c/manifest.parquet").to_pylist()
    assert {tuple(r["extra_channels"]) for r in rows} == {("Fpz-Cz", "Pz-Oz")}
    # a hypnogram is not a report: no narrative, no impression, nothing counted in the prevalence
    assert {(r["narrative"], r["narrative_origin"], r["impression"], r["labels_complete"]) for r in rows} == {
        ("", "none", None, False)
    }
    assert {r["state"] for r in rows} == {"awake"}
    card = json.loads((tmp_path / "c/card.json").read_text())
    assert card["labelled"] == {"sessions": 0, "segments": 0} and card["impressions"] == {"unknown": 1}

    expected = harmonize(read_recording(root / "SC4001E0-PSG_first300s.edf")).extra_uv  # (2, 60000)
    (session,) = [r for r in rows if r["kind"] == "session"]
    reader = ShardReader(shard_path(tmp_path / "c", session["shard"]))
    assert reader.n_extra == 2
    ds = SegmentDataset(tmp_path / "c", None, fields=("waveform", "extra_waveform", "narrative"))
    assert ds.n_extra == 2
    for segment in range(30):
        row = session["row_start"] + segment
        want = expected[:, segment * 2000 : (segment + 1) * 2000]
        stored, mask = reader.extra_uv(row)
        peak = np.abs(want).max(axis=-1, keepdims=True)
        assert mask.all() and (np.abs(want).max(axis=-1) > 1.0).all()  # real signal, not masked zeros
        assert (np.abs(stored - want) <= peak * (1 / 65534 + 1e-6)).all()  # half a quantisation step
        item = ds[segment]
        assert item["extra_channels"] == ("Fpz-Cz", "Pz-Oz") and item["extra_mask"].all()
        assert torch.equal(item["extra_waveform"], torch.from_numpy(stored))
        assert not item["channel_mask"].any() and item["narrative"] == "" and not item["labels_complete"]


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
