"""The tuh source in the TUEG, TUAB, TUEV and TUSZ layouts, with files written as those corpora write them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from neuronarrator.corpus.sources import get_source, tuh
from neuronarrator.corpus.sources.common import LabelFileError
from neuronarrator.corpus.sources.tuh_labels import TCP_MONTAGE, parse_csv, parse_rec, parse_tse, place
from neuronarrator.io.write import write_edf

ELECTRODES = ("FP1", "FP2", "F7", "F3", "FZ", "F4", "F8", "T3", "C3", "CZ", "C4", "T4", "T5", "P3", "PZ", "P4",
              "T6", "O1", "O2", "A1", "A2")  # fmt: skip

REPORT = """CLINICAL HISTORY:  67 year old woman with a history of seizures and a left MCA stroke, now with altered
mental status.

MEDICATIONS:  Keppra, Dilantin, Lipitor, aspirin

INTRODUCTION:  Digital video EEG was performed at bedside using standard 10-20 system of electrode placement
with 1 channel of EKG. The patient is drowsy.

DESCRIPTION OF THE RECORD:  The background is disorganized with diffuse theta and delta slowing. There is
focal polymorphic delta activity in the left temporal region. Sharp waves are seen at T3. No electrographic
seizures were recorded.

HR:  80 bpm

IMPRESSION:  Abnormal EEG due to:
1. Generalized background slowing.
2. Focal slowing, left temporal.
3. Left temporal sharp waves.

CLINICAL CORRELATION:  These findings are consistent with a diffuse encephalopathy and a left temporal
structural lesion with potential epileptogenicity.
"""

CSV_BI = """# version = csv_v1.0.0
# bname = aaaaaaac_s001_t000
# duration = 30.00 secs
# montage_file = $NEDC_NEDC_EVAL_EDF/docs/montages/02_tcp_le_montage.txt
#
channel,start_time,stop_time,label,confidence
TERM,0.0000,12.0000,bckg,1.0000
TERM,12.0000,25.5000,seiz,1.0000
TERM,25.5000,30.0000,bckg,1.0000
"""


def _edf(path: Path, duration_s: float = 30.0, reference: str = "REF", **kwargs) -> Path:
    rng = np.random.default_rng(2)
    data = 20 * rng.standard_normal((len(ELECTRODES), int(duration_s * 250)))
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_edf(path, data, 250.0, [f"EEG {e}-{reference}" for e in ELECTRODES], **kwargs)


def _text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_tueg_session_report_gives_findings_narrative_and_ehr(tmp_path: Path) -> None:
    session = tmp_path / "edf" / "000" / "aaaaaaaa" / "s001_2015_12_30"
    _edf(session / "01_tcp_ar" / "aaaaaaaa_s001_t000.edf")
    _edf(session / "01_tcp_ar" / "aaaaaaaa_s001_t001.edf", 20.0)
    _text(session / "aaaaaaaa_s001.txt", REPORT)
    items = list(get_source("tuh").list_items(tmp_path))
    assert [i.key for i in items] == [
        "edf/000/aaaaaaaa/s001_2015_12_30/01_tcp_ar/aaaaaaaa_s001_t000.edf",
        "edf/000/aaaaaaaa/s001_2015_12_30/01_tcp_ar/aaaaaaaa_s001_t001.edf",
    ]
    assert {i.patient for i in items} == {"tuh:aaaaaaaa"}
    assert items[0].options["report"] == "edf/000/aaaaaaaa/s001_2015_12_30/aaaaaaaa_s001.txt"

    data = tuh.load(items[0])
    assert data.montage == "referential" and data.data_uv.shape == (19, 30 * 200)
    f = data.findings
    assert f.codes == {"generalized_slowing", "focal_slowing", "focal_epileptiform"}
    assert f.get("focal_slowing").side == "left" and f.get("focal_epileptiform").regions == ("temporal",)
    assert f.impression == "abnormal" and f.state == "drowsy"
    assert data.narrative_origin == "report"
    assert "DESCRIPTION OF THE RECORD:" in data.narrative and "IMPRESSION:" in data.narrative
    assert "CLINICAL CORRELATION:" in data.narrative
    assert "Keppra" not in data.narrative and "67 year" not in data.narrative  # the EHR stays out of the text
    assert data.ehr == {
        "age_years": 67.0, "sex": "female", "icd10": ["I63.9", "R41.82", "R56.9"],
        "atc": ["B01AC06", "C10AA05", "N03AB02", "N03AX14"],
    }  # fmt: skip
    labels = data.meta["labels"]
    assert data.labels_complete and data.knows_impression and labels["impression_stated"]
    assert tuh.load(items[1]).narrative == data.narrative  # every token file carries its session's report


def test_report_without_findings_text_names_the_file_and_line(tmp_path: Path) -> None:
    session = tmp_path / "aaaaaaab" / "s002_2012_01_02"
    _edf(session / "aaaaaaab_s002_t000.edf")
    _text(
        session / "aaaaaaab_s002.txt",
        "CLINICAL HISTORY: 40 year old man.\n\nMEDICATIONS: None\n\nIMPRESSION:\n\n",
    )
    with pytest.raises(LabelFileError, match=r"aaaaaaab_s002.txt: line 5: no DESCRIPTION"):
        tuh.load(next(tuh.list_items(tmp_path)))


def test_tuab_folders_give_impression_and_official_split(tmp_path: Path) -> None:
    patient = {"code": "aaaaaaab", "sex": "M", "birthdate": dt.date(1950, 6, 1), "name": "aaaaaaab"}
    _edf(tmp_path / "edf/train/abnormal/01_tcp_ar/aaaaaaab_s002_t001.edf", patient=patient,
         start=dt.datetime(2010, 6, 1))  # fmt: skip
    _edf(tmp_path / "edf/eval/normal/01_tcp_ar/aaaaaaac_s001_t000.edf")
    normal, abnormal = tuh.list_items(tmp_path)  # sorted by path: edf/eval/... before edf/train/...
    assert (abnormal.options["tuab"], abnormal.options["official_split"]) == ("abnormal", "train")
    a, n = tuh.load(abnormal), tuh.load(normal)
    assert a.findings.impression == "abnormal" and n.findings.impression == "normal"
    assert a.knows_impression and n.knows_impression  # the TUAB folder says so
    assert not a.labels_complete and not n.labels_complete  # but names no findings
    assert a.meta["official_split"] == "train" and n.meta["official_split"] == "eval"
    assert a.findings.findings == () and a.narrative_origin == "none"
    assert a.ehr["sex"] == "male" and a.ehr["age_years"] == pytest.approx(
        60.0, abs=0.1
    )  # from the EDF header


def test_tuab_corpus_rows_keep_the_folder_impression_and_invent_nothing_else(tmp_path: Path) -> None:
    from neuronarrator.corpus.build import build_corpus
    from neuronarrator.corpus.manifest import read_table

    _edf(tmp_path / "edf/train/abnormal/01_tcp_ar/aaaaaaab_s002_t001.edf", duration_s=20.0)
    _edf(tmp_path / "edf/train/normal/01_tcp_ar/aaaaaaac_s001_t000.edf", duration_s=20.0)
    build_corpus([("tuh", tmp_path / "edf", {})], tmp_path / "c", scheduler="synchronous")
    rows = read_table(tmp_path / "c/manifest.parquet").to_pylist()
    impressions = {(r["patient"], r["segment"]): r["impression"] for r in rows}
    assert impressions == {
        ("tuh:aaaaaaab", -1): "abnormal", ("tuh:aaaaaaab", 0): None, ("tuh:aaaaaaab", 1): None,  # abnormal where? unknown
        ("tuh:aaaaaaac", -1): "normal", ("tuh:aaaaaaac", 0): "normal", ("tuh:aaaaaaac", 1): "normal",  # normal throughout
    }  # fmt: skip
    assert {(r["labels_complete"], r["narrative"], r["narrative_origin"]) for r in rows} == {
        (False, "", "none")
    }


def test_tuev_rec_events_are_placed_by_the_tcp_channels(tmp_path: Path) -> None:
    folder = tmp_path / "edf/train/aaaaaaar"
    _edf(folder / "aaaaaaar_00000001.edf")
    _text(folder / "aaaaaaar_00000001.rec",
          "0,10.0,11.0,1\n1,10.0,11.0,1\n14,10.0,11.0,1\n4,2.0,3.0,4\n0,2.0,3.0,4\n5,20.0,21.0,6\n")  # fmt: skip
    (item,) = tuh.list_items(tmp_path)
    assert item.patient == "tuh:aaaaaaar" and item.options["events"] == {"tuev": "aaaaaaar_00000001.rec"}
    data = tuh.load(item)
    spikes = data.findings.get("focal_epileptiform")
    assert spikes.side == "left" and set(spikes.channels) == {"Fp1", "F7", "T7", "F3"}
    assert [(e.start_s, e.end_s) for e in spikes.evidence] == [(10.0, 11.0)]
    assert data.findings.get("eye_movement_artifact").side == "bilateral"
    assert data.findings.impression == "abnormal" and data.knows_impression and not data.labels_complete
    assert data.meta["labels"]["origin"] == ["tuev_rec"]


def test_tuev_lab_files_per_channel(tmp_path: Path) -> None:
    folder = tmp_path / "edf/eval/aaaaaaas"
    _edf(folder / "aaaaaaas_00000002.edf")
    for channel in ("ch008", "ch009"):  # A1-T3, T3-C3
        _text(folder / f"aaaaaaas_00000002_{channel}.lab", "0 100000000 bckg\n100000000 110000000 pled\n")
    _text(folder / "aaaaaaas_00000002_ch010.lab", "0 300000000 bckg\n")
    data = tuh.load(next(tuh.list_items(tmp_path)))
    (lpd,) = data.findings.findings
    assert (lpd.code, lpd.side, lpd.channels) == ("lpd", "left", ("T7", "C3"))
    assert [(e.start_s, e.end_s) for e in lpd.evidence] == [(10.0, 11.0)]


def test_malformed_rec_names_file_and_line(tmp_path: Path) -> None:
    path = _text(tmp_path / "events.rec", "0,1.0,2.0,1\n" * 6 + "3,4.0,5.0\n")
    with pytest.raises(
        LabelFileError, match=r"events.rec: line 7: expected 4 comma-separated fields .* got 3"
    ):
        parse_rec(path)
    for line, match in (("22,1,2,1", "channel '22'"), ("0,2,1,1", "stop 1.0 is not after start 2.0"),
                        ("0,1,2,7", "unknown TUEV class id"), ("0,a,2,1", "start 'a' is not a number")):  # fmt: skip
        with pytest.raises(LabelFileError, match=rf"line 1: {match}"):
            parse_rec(_text(tmp_path / "x.rec", line + "\n"))


def test_tusz_csv_bi_csv_and_tse(tmp_path: Path) -> None:
    folder = tmp_path / "edf/dev/aaaaaaac/s001_2002/02_tcp_le"
    _edf(folder / "aaaaaaac_s001_t000.edf", reference="LE")
    _text(folder / "aaaaaaac_s001_t000.csv_bi", CSV_BI)
    (item,) = tuh.list_items(tmp_path)
    data = tuh.load(item)
    (seizure,) = data.findings.findings
    assert seizure.code == "seizure" and seizure.side is None
    assert [(e.start_s, e.end_s) for e in seizure.evidence] == [(12.0, 25.5)]
    assert data.findings.impression == "abnormal" and data.meta["labels"]["origin"] == ["tusz_csv_bi"]

    # the per-channel .csv, when present, is preferred: it places the seizure
    per_channel = CSV_BI.replace("channel,start", "channel,start").split("channel,start_time")[0] + (
        "channel,start_time,stop_time,label,confidence\n"
        "FP1-F7,0.0000,12.0000,bckg,1.0000\nFP1-F7,12.0000,25.5000,fnsz,1.0000\n"
        "F7-T3,12.5000,25.0000,fnsz,1.0000\nFP2-F8,0.0000,30.0000,bckg,1.0000\n"
    )
    _text(folder / "aaaaaaac_s001_t000.csv", per_channel)
    (item,) = tuh.list_items(tmp_path)
    (seizure,) = tuh.load(item).findings.findings
    assert (seizure.side, seizure.channels) == ("left", ("Fp1", "F7", "T7"))
    assert [(e.start_s, e.end_s) for e in seizure.evidence] == [(12.0, 25.5)]

    tse = _text(
        tmp_path / "aaaaaaad_s003_t002.tse",
        "version = tse_v1.0.0\n\n0.0000 5.0000 bckg 1.0000\n5.0000 20.0000 gnsz 1.0000\n",
    )
    (mark,) = parse_tse(tse)
    assert (mark.code, mark.side, mark.start_s, mark.end_s) == ("seizure", "generalized", 5.0, 20.0)


def test_malformed_tusz_files_name_file_and_line(tmp_path: Path) -> None:
    bad_label = _text(
        tmp_path / "a.csv_bi", CSV_BI.replace("TERM,12.0000,25.5000,seiz", "TERM,12.0000,25.5000,seizz")
    )
    with pytest.raises(LabelFileError, match=r"a.csv_bi: line 8: unknown TUSZ label 'seizz'"):
        parse_csv(bad_label)
    no_header = _text(tmp_path / "b.csv_bi", "TERM,0.0,1.0,bckg,1.0\n")
    with pytest.raises(LabelFileError, match="line 1: expected the header"):
        parse_csv(no_header)
    bad_conf = _text(tmp_path / "c.tse", "version = tse_v1.0.0\n\n0.0 5.0 seiz 1.5\n")
    with pytest.raises(LabelFileError, match="c.tse: line 3: confidence 1.5"):
        parse_tse(bad_conf)


def test_tcp_montage_and_places() -> None:
    assert len(TCP_MONTAGE) == 22 and TCP_MONTAGE[8] == "A1-T3" and TCP_MONTAGE[21] == "P4-O2"
    assert place(["C3-CZ"])[0] == "left"
    assert place(["FP1-F7", "FP2-F8"])[0] == "bilateral"
    assert place(["CZ-C4", "C4-T4"])[2] == ("Cz", "C4", "T8")
    assert place(["TERM"]) == (None, (), ())
