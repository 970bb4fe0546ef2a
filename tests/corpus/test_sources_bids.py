"""The bids source on a tiny BIDS EEG dataset written with mne-bids (and events edited by hand)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from neuronarrator.corpus.sources import bids, get_source
from neuronarrator.corpus.sources.common import LabelFileError
from neuronarrator.io.channels import CANONICAL_19
from neuronarrator.io.write import write_edf


def _dataset(tmp_path: Path) -> Path:
    import mne
    from mne_bids import BIDSPath, write_raw_bids

    root = tmp_path / "ds-ward"
    people = {"01": ("F", dt.date(1980, 1, 1)), "02": ("M", dt.date(2001, 7, 1))}
    runs = [("01", "01", [(2.0, 0.0, "spike T3"), (5.0, 1.0, "eyes closed"), (8.0, 2.0, "PLEDs right")]),
            ("01", "02", []), ("02", "01", [(0.0, 20.0, "Sleep stage 2")])]  # fmt: skip
    for subject, session, events in runs:
        sex, birth = people[subject]
        data = 20 * np.random.default_rng(int(subject + session)).standard_normal((19, 4000))
        source = write_edf(
            tmp_path / f"src_{subject}_{session}.edf", data, 200.0, list(CANONICAL_19), events=events,
            patient={"code": f"P{subject}", "sex": sex, "birthdate": birth, "name": "X"}, start=dt.datetime(2020, 1, 1),
        )  # fmt: skip
        raw = mne.io.read_raw_edf(source, verbose="error")
        path = BIDSPath(subject=subject, session=session, task="rest", root=root, datatype="eeg")
        write_raw_bids(raw, path, overwrite=True, verbose=False)
    return root


def test_bids_dataset_items_events_and_participants(tmp_path: Path) -> None:
    root = _dataset(tmp_path)
    items = list(get_source("bids").list_items(root))
    assert [i.key for i in items] == [
        "sub-01/ses-01/eeg/sub-01_ses-01_task-rest_eeg.edf",
        "sub-01/ses-02/eeg/sub-01_ses-02_task-rest_eeg.edf",
        "sub-02/ses-01/eeg/sub-02_ses-01_task-rest_eeg.edf",
    ]
    assert [i.patient for i in items] == ["bids:ds-ward/sub-01", "bids:ds-ward/sub-01", "bids:ds-ward/sub-02"]

    first = bids.load(items[0])
    assert first.data_uv.shape == (19, 4000) and first.montage == "referential"
    spikes, lpd = first.findings.get("focal_epileptiform"), first.findings.get("lpd")
    assert (spikes.side, spikes.channels) == ("left", ("T7",)) and lpd.side == "right"
    assert first.findings.impression == "abnormal"
    assert first.meta["labels"]["unmapped"] == {"eyes closed": 1}
    assert first.ehr == {"age_years": 40.0, "sex": "female", "icd10": [], "atc": []}

    quiet = bids.load(items[1])  # no events at all
    assert quiet.findings.findings == () and not quiet.knows_impression and not quiet.labels_complete
    asleep = bids.load(items[2])
    assert asleep.findings.state == "n2" and asleep.ehr["sex"] == "male" and asleep.ehr["age_years"] == 18.0


def test_malformed_events_tsv_names_file_and_line(tmp_path: Path) -> None:
    root = _dataset(tmp_path)
    events = root / "sub-01/ses-01/eeg/sub-01_ses-01_task-rest_events.tsv"
    lines = events.read_text().splitlines()
    lines[2] = lines[2].rsplit("\t", 2)[0]  # a row with two fields fewer
    events.write_text("\n".join(lines) + "\n")
    with pytest.raises(LabelFileError, match=r"events.tsv: line 3: expected 5 tab-separated fields, got 3"):
        bids.load(next(bids.list_items(root)))
    events.write_text("start\tduration\n1\t2\n")
    with pytest.raises(LabelFileError, match=r"line 1: the header lacks the column\(s\) \['onset'\]"):
        bids.read_events_tsv(events)
