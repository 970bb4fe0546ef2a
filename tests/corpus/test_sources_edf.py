"""The edf source: any folder of EDF/EDF+, findings from annotations where they map, patients."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from neuronarrator.corpus.sources import edf, get_source
from neuronarrator.io.channels import CANONICAL_19
from neuronarrator.io.errors import InputError
from neuronarrator.io.write import write_edf


def _write(path: Path, duration_s: float = 20.0, events=(), **kwargs) -> Path:
    rng = np.random.default_rng(abs(hash(path.name)) % 2**32)
    t = np.arange(int(duration_s * 200)) / 200
    data = 20 * np.sin(2 * np.pi * 10 * t) + 5 * rng.standard_normal((19, t.size))
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_edf(
        path, data, 200.0, [f"EEG {c.upper()}-REF" for c in CANONICAL_19], events=events, **kwargs
    )


def test_real_eegmmi_is_one_patient_with_three_sessions(shared_data: Path) -> None:
    items = list(get_source("edf").list_items(shared_data / "eegmmidb"))
    assert [i.key for i in items] == ["S001R01.edf", "S001R02.edf", "S001R04.edf"]
    assert {i.patient for i in items} == {"edf:eegmmidb"}
    assert len({i.patient for i in edf.list_items(shared_data / "eegmmidb", patient="file")}) == 3

    data = edf.load(items[2])  # 125 s of motor imagery with T0/T1/T2 task markers
    assert data.data_uv.shape == (19, 125 * 200) and data.montage == "referential"
    assert data.channel_mask.all()
    assert data.findings.findings == ()
    labels = data.meta["labels"]
    assert labels["unmapped"] == {"T0": 15, "T1": 8, "T2": 7}  # task markers, not findings
    assert not data.labels_complete and not data.knows_impression and not labels["state_known"]
    assert "impression_known" not in labels and "complete" not in labels  # in the contract, not in meta
    assert (data.narrative, data.narrative_origin) == ("", "none")
    assert data.ehr == {"age_years": None, "sex": None, "icd10": [], "atc": []}
    assert data.meta["source_file"] == "S001R04.edf"


def test_annotations_become_findings_with_evidence(tmp_path: Path) -> None:
    events = [
        (2.0, 0.0, "spike T3"), (5.0, 0.0, "Spike T3"), (8.0, 3.0, "LPDs right temporal"),
        (12.0, 0.0, "spike"), (0.0, 20.0, "Sleep stage 2"), (15.0, 1.0, "eyes closed"),
        (14.0, 2.0, "muscle artifact"), (16.0, 0.0, "breach rhythm"),
    ]  # fmt: skip
    _write(tmp_path / "ward" / "rec.edf", events=events)
    (item,) = edf.list_items(tmp_path)
    assert item.key == "ward/rec.edf" and item.patient == "edf:ward"
    data = edf.load(item)
    f = data.findings
    spikes = f.get("focal_epileptiform")
    assert (spikes.side, spikes.regions, spikes.channels) == ("left", ("temporal",), ("T7",))
    assert [(e.start_s, e.end_s) for e in spikes.evidence] == [(1.5, 2.5), (4.5, 5.5)]
    lpd = f.get("lpd")
    assert lpd.side == "right" and [(e.start_s, e.end_s) for e in lpd.evidence] == [(8.0, 11.0)]
    assert f.get("muscle_artifact") is not None
    assert f.state == "n2" and [(s.start_s, s.end_s, s.state) for s in f.state_timeline] == [
        (0.0, 20.0, "n2")
    ]
    assert f.impression == "abnormal"
    labels = data.meta["labels"]
    assert data.knows_impression and labels["state_known"] and labels["origin"] == ["edf_annotations"]
    assert not data.labels_complete  # annotations are events, never the whole record
    assert labels["unmapped"] == {"eyes closed": 1}
    assert labels["known_none"] == {"breach rhythm": 1}
    assert labels["set_aside"] == {"focal_epileptiform: no side": 1}  # "spike" alone says no side


def test_an_abnormal_annotation_without_a_side_still_makes_the_record_abnormal(tmp_path: Path) -> None:
    _write(tmp_path / "a.edf", events=[(3.0, 0.0, "sharp wave")])
    data = edf.load(next(edf.list_items(tmp_path)))
    assert data.findings.findings == () and data.findings.impression == "abnormal"
    assert data.knows_impression and not data.labels_complete


def test_render_always_writes_a_narrative_from_what_is_known(tmp_path: Path) -> None:
    _write(tmp_path / "a.edf", events=[(3.0, 0.0, "spike F8")])
    data = edf.load(next(edf.list_items(tmp_path, render="always")))
    assert data.narrative_origin == "rendered" and "IMPRESSION" in data.narrative


def test_patients_from_the_de_identified_header(tmp_path: Path) -> None:
    ann = {"code": "MCH-0234567", "sex": "F", "birthdate": dt.date(1951, 5, 2), "name": "Ann_Smith"}
    bob = {"code": "MCH-0000001", "sex": "M", "birthdate": dt.date(1980, 1, 1), "name": "Bob_Jones"}
    start = dt.datetime(2002, 3, 2, 10, 0, 0)
    _write(tmp_path / "day1" / "x.edf", patient=ann, start=start)
    _write(tmp_path / "day2" / "y.edf", patient=ann, start=start)
    _write(tmp_path / "day2" / "z.edf", patient=bob, start=start)
    _write(tmp_path / ".trash" / "hidden.edf")
    items = list(edf.list_items(tmp_path))
    assert [i.key for i in items] == ["day1/x.edf", "day2/y.edf", "day2/z.edf"]
    assert items[0].patient == items[1].patient != items[2].patient
    assert "MCH" not in items[0].patient and "Ann" not in items[0].patient
    assert [i.patient for i in edf.list_items(tmp_path, patient="folder")] == [
        "edf:day1",
        "edf:day2",
        "edf:day2",
    ]
    data = edf.load(items[0])
    assert data.ehr["sex"] == "female" and data.ehr["age_years"] == pytest.approx(50.8, abs=0.1)


def test_a_corrupt_file_is_listed_and_fails_on_load_naming_the_file(tmp_path: Path) -> None:
    good = _write(tmp_path / "good.edf")
    bad = tmp_path / "bad.edf"
    bad.write_bytes(good.read_bytes()[:1000])
    items = list(edf.list_items(tmp_path))
    assert [i.key for i in items] == ["bad.edf", "good.edf"]
    with pytest.raises(InputError, match="bad.edf"):
        edf.load(items[0])


def test_needs_an_existing_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such folder"):
        list(edf.list_items(tmp_path / "absent"))
    with pytest.raises(ValueError, match="patient"):
        list(edf.list_items(tmp_path, patient="guess"))


def test_bipolar_files_keep_their_other_derivations(write_raw_edf, label_sets) -> None:
    path = write_raw_edf("chb01_03.edf", label_sets["chbmit"], 256.0, n_records=20)
    data = edf.load(next(edf.list_items(path.parent)))
    assert data.montage == "bipolar" and data.data_uv.shape == (18, 4000)
    # derivations outside the double banana travel as extras (the repeated T8-P8 is dropped by harmonize)
    assert data.extra_channels == ("P7-T7", "T7-FT9", "FT9-FT10", "FT10-T8")
    assert data.extra_uv.shape == (4, 4000) and data.extra_uv.dtype == np.float32 and data.extra_uv.any()
    assert not data.labels_complete and data.narrative_origin == "none"


def test_a_bad_extra_derivation_is_left_out_as_a_bad_row_is_masked() -> None:
    from neuronarrator.clinical.findings import Findings
    from neuronarrator.corpus.sources.common import Labels, ehr_dict, session
    from neuronarrator.io.channels import DOUBLE_BANANA_NAMES
    from neuronarrator.io.harmonize import Harmonized
    from neuronarrator.signal.quality import ChannelFlag, QualityReport

    harmonized = Harmonized(
        data_uv=np.zeros((18, 4000), np.float32), sfreq_hz=200.0, channels=DOUBLE_BANANA_NAMES, montage="bipolar",
        channel_mask=np.zeros(18, bool), extra_uv=np.repeat([[1.0], [2.0]], 4000, axis=1).astype(np.float32),
        extra_channels=("Fpz-Cz", "Pz-Oz"), quality=QualityReport(bad_channels=[ChannelFlag("Fpz-Cz", "flat")]),
    )  # fmt: skip
    data = session(
        harmonized, Findings(), narrative="", origin="none", ehr=ehr_dict(), key="x.edf", labels=Labels()
    )
    assert (
        data.extra_channels == ("Pz-Oz",) and data.extra_uv.shape == (1, 4000) and (data.extra_uv == 2).all()
    )
    assert data.meta["extra_channels_dropped"] == ["Fpz-Cz"]
    assert not data.labels_complete and not data.knows_impression  # Labels() claims nothing
