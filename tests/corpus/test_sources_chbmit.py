"""The chbmit source: the real summaries and seizure files parsed; the layout rebuilt with small EDFs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from neuronarrator.corpus.sources import chbmit, get_source
from neuronarrator.corpus.sources.common import LabelFileError
from neuronarrator.io.write import write_edf

#: CHB-MIT's channels (the second T8-P8 left out: one EDF may not name a channel twice when written here).
LABELS = (
    "FP1-F7", "F7-T7", "T7-P7", "P7-O1", "FP1-F3", "F3-C3", "C3-P3", "P3-O1", "FP2-F4", "F4-C4",
    "C4-P4", "P4-O2", "FP2-F8", "F8-T8", "T8-P8", "P8-O2", "FZ-CZ", "CZ-PZ", "P7-T7", "T7-FT9",
    "FT9-FT10", "FT10-T8",
)  # fmt: skip


def _edf(path: Path, duration_s: float) -> Path:
    rng = np.random.default_rng(1)
    data = 20 * rng.standard_normal((len(LABELS), int(duration_s * 256)))
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_edf(path, data, 256.0, LABELS)


def _wfdb(spans_s: list[tuple[float, float]], sfreq_hz: float = 256.0) -> bytes:
    """A WFDB annotation file as CHB-MIT's ``.seizures``: SKIP to each onset ([) and end (])."""
    out, t = bytearray(), 0
    for start, end in spans_s:
        for sample, kind in ((int(start * sfreq_hz), 32), (int(end * sfreq_hz), 33)):
            delta, t = sample - t, sample
            out += (59 << 10).to_bytes(2, "little")
            out += ((delta >> 16) & 0xFFFF).to_bytes(2, "little") + (delta & 0xFFFF).to_bytes(2, "little")
            out += (kind << 10).to_bytes(2, "little")
    return bytes(out + b"\x00\x00")


def test_real_summaries_parse(shared_data: Path) -> None:
    chb05 = chbmit.parse_summary(shared_data / "chbmit/chb05-summary.txt")
    assert len(chb05) == 39
    assert {k: v.seizures for k, v in chb05.items() if v.seizures} == {
        "chb05_06.edf": ((417.0, 532.0),),
        "chb05_13.edf": ((1086.0, 1196.0),),
        "chb05_16.edf": ((2317.0, 2413.0),),
        "chb05_17.edf": ((2451.0, 2571.0),),
        "chb05_22.edf": ((2348.0, 2465.0),),
    }  # fmt: skip  ("Seizure Start Time:" variant)
    chb08 = chbmit.parse_summary(shared_data / "chbmit/chb08-summary.txt")
    assert len(chb08) == 20 and sum(len(v.seizures) for v in chb08.values()) == 5
    assert chb08["chb08_02.edf"].seizures == ((2670.0, 2841.0),)  # "Seizure 1 Start Time:" variant
    assert chb08["chb08_02.edf"].line == 30


def test_real_seizure_files_and_subject_info(shared_data: Path) -> None:
    assert chbmit.parse_seizure_file(shared_data / "chbmit/chb01_03.edf.seizures") == [(2996.0, 3036.0)]
    assert chbmit.parse_seizure_file(shared_data / "chbmit/chb06_04.edf.seizures") == [
        (327.0, 347.0),
        (6211.0, 6231.0),
    ]
    info = chbmit.parse_subject_info(shared_data / "chbmit/SUBJECT-INFO")
    assert (
        info["chb01"] == ("female", 11.0)
        and info["chb06"] == ("female", 1.5)
        and info["chb08"] == ("male", 3.5)
    )
    assert len(info) == 23


def test_layout_with_real_summary(shared_data: Path, tmp_path: Path) -> None:
    root = tmp_path / "chbmit"
    _edf(root / "chb05" / "chb05_06.edf", 440.0)  # the seizure runs 417-532 s: clipped at the end
    _edf(root / "chb05" / "chb05_01.edf", 20.0)
    shutil.copy(shared_data / "chbmit/chb05-summary.txt", root / "chb05")
    shutil.copy(shared_data / "chbmit/SUBJECT-INFO", root)
    items = list(get_source("chbmit").list_items(root))
    assert [i.key for i in items] == ["chb05/chb05_01.edf", "chb05/chb05_06.edf"]
    assert {i.patient for i in items} == {"chbmit:chb05"}
    assert items[1].options["summary"] == "chb05/chb05-summary.txt"

    ictal = chbmit.load(items[1])
    assert ictal.montage == "bipolar" and ictal.data_uv.shape == (18, 440 * 200) and ictal.channel_mask.all()
    (seizure,) = ictal.findings.findings
    assert seizure.code == "seizure" and [(e.start_s, e.end_s) for e in seizure.evidence] == [(417.0, 440.0)]
    assert ictal.findings.impression == "abnormal" and ictal.knows_impression
    assert not ictal.labels_complete and (ictal.narrative, ictal.narrative_origin) == ("", "none")
    assert ictal.ehr == {"age_years": 7.0, "sex": "female", "icd10": ["G40.919"], "atc": []}

    interictal = chbmit.load(items[0])
    assert interictal.findings.findings == ()
    assert not interictal.knows_impression  # a seizure-free hour is not a normal EEG
    assert not interictal.labels_complete and interictal.narrative_origin == "none"
    assert interictal.meta["labels"]["seizure_content_known"]


def test_chb21_is_chb01_and_seizure_files_fill_in(tmp_path: Path) -> None:
    _edf(tmp_path / "chb21" / "chb21_01.edf", 30.0)
    (tmp_path / "chb21" / "chb21_01.edf.seizures").write_bytes(_wfdb([(5.0, 15.0), (20.0, 25.0)]))
    (item,) = chbmit.list_items(tmp_path)
    assert item.patient == "chbmit:chb01" and item.options["summary"] is None
    data = chbmit.load(item)
    assert [[(e.start_s, e.end_s) for e in f.evidence] for f in data.findings.findings] == [
        [(5.0, 15.0)],
        [(20.0, 25.0)],
    ]
    assert data.meta["labels"]["origin"] == ["chbmit_seizures_file"]
    assert data.ehr["age_years"] is None  # no SUBJECT-INFO here


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        ("Seizure 1 End Time: 2841 seconds", "Seizure 1 End Time: soon", r"chb08-summary.txt: line 35: expected 'Seizure"),
        ("Seizure 1 End Time: 2841 seconds\n", "", r"chb08-summary.txt: line 30: chb08_02.edf: 1 seizure start\(s\) but 0"),
        ("Number of Seizures in File: 1\nSeizure 1 Start Time: 2670", "Number of Seizures in File: 2\nSeizure 1 Start Time: 2670",
         r"line 33: chb08_02.edf: says 2 seizures but gives 1"),
        ("Seizure 1 End Time: 2841", "Seizure 1 End Time: 2600", r"line 34: chb08_02.edf: seizure ends at 2600.0 s"),
    ],
)  # fmt: skip
def test_malformed_summary_names_file_and_line(
    shared_data: Path, tmp_path: Path, old: str, new: str, match: str
) -> None:
    text = (shared_data / "chbmit/chb08-summary.txt").read_text()
    assert old in text
    bad = tmp_path / "chb08" / "chb08-summary.txt"
    bad.parent.mkdir()
    bad.write_text(text.replace(old, new, 1))
    with pytest.raises(LabelFileError, match=match):
        chbmit.parse_summary(bad)
    _edf(tmp_path / "chb08" / "chb08_02.edf", 10.0)
    with pytest.raises(LabelFileError, match="chb08-summary.txt: line"):  # the builder skips the item
        chbmit.load(next(chbmit.list_items(tmp_path)))
