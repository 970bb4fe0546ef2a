"""The phantom source: patients with several sessions, harmonized signals, truth, rendered text, EHR."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from neuronarrator.clinical.findings import Evidence, Finding, Findings
from neuronarrator.clinical.label import label_report
from neuronarrator.corpus.sources import SOURCES, get_source, phantom
from neuronarrator.corpus.sources.base import SFREQ_HZ


def test_registered_under_its_name() -> None:
    assert get_source("phantom") is phantom is SOURCES["phantom"]
    assert phantom.name == "phantom"


def test_unknown_source_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="known sources: .*phantom"):
        get_source("tuh-eeg")


def test_items_are_keyed_deterministic_and_only_append() -> None:
    short = list(phantom.list_items(None, sessions=12, duration_s=20.0, seed=3))
    long = list(phantom.list_items(None, sessions=40, duration_s=20.0, seed=3))
    assert [i.key for i in short] == [f"phantom/{i:06d}" for i in range(12)]
    assert long[:12] == short
    assert [(i.patient, i.options) for i in long[:12]] == [(i.patient, i.options) for i in short]
    per_patient = Counter(i.patient for i in long)
    assert max(per_patient.values()) >= 2  # repeat sessions exercise patient-level splits
    assert len(per_patient) < 40
    other = list(phantom.list_items(None, sessions=12, duration_s=20.0, seed=4))
    assert [i.options["seed"] for i in other] != [i.options["seed"] for i in short]


def test_rejects_sessions_shorter_than_a_segment() -> None:
    with pytest.raises(ValueError, match="10 s"):
        list(phantom.list_items(None, sessions=1, duration_s=5.0))


def test_load_gives_harmonized_average_reference_with_truth_and_text() -> None:
    item = next(phantom.list_items(None, sessions=1, duration_s=20.0, seed=0))
    data = phantom.load(item)
    assert data.data_uv.shape == (19, int(20 * SFREQ_HZ))
    assert data.data_uv.dtype == np.float32
    assert data.montage == "referential" and data.channel_mask.all()
    # average reference: the channels sum to ~0 at every sample (the phantom itself is linked-ears)
    assert np.abs(data.data_uv.sum(axis=0)).max() < 1e-3 * np.abs(data.data_uv).max() * 19
    assert data.narrative_origin == "rendered"
    assert "IMPRESSION" in data.narrative
    assert label_report(data.narrative).impression == data.findings.impression
    assert data.meta["harmonize"]["sfreq_hz"] == SFREQ_HZ
    assert data.ehr["age_years"] == data.meta["subject"]["age_years"]
    assert data.ehr["sex"] in ("male", "female")
    again = phantom.load(item)
    assert np.array_equal(again.data_uv, data.data_uv) and again.ehr == data.ehr
    assert again.narrative == data.narrative and again.findings == data.findings


def test_sessions_of_one_patient_share_the_person() -> None:
    items = list(phantom.list_items(None, sessions=20, duration_s=20.0, seed=1))
    by_patient: dict[str, list] = {}
    for item in items:
        by_patient.setdefault(item.patient, []).append(item)
    repeat = next(group for group in by_patient.values() if len(group) >= 2)
    a, b = (phantom.load(i) for i in repeat[:2])
    assert (a.ehr["age_years"], a.ehr["sex"]) == (b.ehr["age_years"], b.ehr["sex"])
    assert not np.array_equal(a.data_uv, b.data_uv)


def _findings(*codes: str) -> Findings:
    located = {"focal_epileptiform": "left", "focal_slowing": "right", "lpd": "left", "lrda": "left"}
    return Findings(tuple(Finding(c, side=located.get(c), evidence=(Evidence(1.0, 2.0),)) for c in codes))


def _rates(findings: Findings, n: int = 400) -> tuple[Counter, Counter]:
    icd, atc = Counter(), Counter()
    for seed in range(n):
        ehr = phantom.draw_ehr(findings, 40.0, "female", np.random.default_rng(seed))
        icd.update(ehr["icd10"])
        atc.update(ehr["atc"])
    return icd, atc


def test_ehr_follows_the_findings_at_realistic_rates() -> None:
    icd, atc = _rates(_findings("focal_epileptiform"))
    epilepsy = sum(v for k, v in icd.items() if k.startswith("G40"))
    assert 0.55 < epilepsy / 400 < 0.85
    asm = sum(atc[c] for c in ("N03AX14", "N03AG01", "N03AX09"))
    assert 0.45 < asm / 400 < 0.75
    assert atc["N03AX14"] > atc["N03AG01"]  # levetiracetam first-line for focal epilepsy

    icd, atc = _rates(_findings("excess_beta"))
    assert 0.6 < (atc["N05BA01"] + atc["N03AE01"]) / 400 < 0.8
    assert not icd

    icd, _ = _rates(_findings("generalized_slowing"))
    assert set(icd) == {"G93.40"}
    icd, _ = _rates(_findings("focal_slowing"))
    assert set(icd) <= {"G93.89", "I63.9"} and icd

    icd, atc = _rates(_findings())  # a normal record: no diagnosis, occasionally a treated patient
    assert not icd
    assert 0.02 < sum(atc.values()) / 400 < 0.15


def test_ehr_is_deterministic_per_stream() -> None:
    f = _findings("seizure", "excess_beta")
    draws = [phantom.draw_ehr(f, 30.0, "male", np.random.default_rng(7)) for _ in range(2)]
    assert draws[0] == draws[1]
    assert draws[0]["age_years"] == 30.0 and draws[0]["sex"] == "male"


def test_line_noise_notched_by_harmonization_leaves_the_truth() -> None:
    for item in phantom.list_items(None, sessions=60, duration_s=20.0, seed=11):
        data = phantom.load(item)
        notched = data.meta["harmonize"]["line_freq_hz"] is not None
        assert "line_noise" not in data.findings.codes
        assert data.meta["removed_by_harmonization"] == (["line_noise"] if notched else [])
        if notched:
            return
    pytest.fail("no session with line noise in 60")


def test_the_ecg_lead_is_stored_and_read_back_as_the_sessions_lead(tmp_path) -> None:
    """``ecg_lead=1``: the lead travels as the extra channel ``ECG`` and comes back as ``SessionSignal.ecg_uv``
    (int16-quantized: within 0.1 % of its range); it is not an EEG row of CLEF's spectrogram."""
    from neuronarrator.corpus.build import build_corpus
    from neuronarrator.corpus.datasets import SessionDataset
    from neuronarrator.corpus.sources.base import ECG_LEAD

    build_corpus([("phantom", None, {"sessions": 2, "duration_s": 20, "ecg_lead": True})], tmp_path / "c",
                 scheduler="synchronous", split_fractions=(0.0, 0.0, 1.0))  # fmt: skip
    dataset = SessionDataset(tmp_path / "c", None)
    item = next(phantom.list_items(sessions=2, duration_s=20, ecg_lead=True))
    stored = dataset.session_signal(0)
    truth = phantom.load(item).extra_uv[0]
    assert stored.ecg_uv is not None and stored.ecg_uv.shape == (stored.data_uv.shape[1],)
    assert np.abs(stored.ecg_uv - truth).max() <= 1e-3 * np.ptp(truth)
    assert ECG_LEAD not in dataset[0]["spectrogram_channels"] and dataset[0]["spectrogram"].shape[0] == 19
