"""Shared pieces of the adapters: the registry, annotation texts -> findings, state timelines, EHR text."""

from __future__ import annotations

import pytest

from neuronarrator.corpus.sources import SOURCES
from neuronarrator.corpus.sources.annotations import Mark, assemble, read_annotation, state_timeline
from neuronarrator.corpus.sources.ehr import age_sex, history_icd10, medications_atc


def test_every_registered_adapter_has_the_contract() -> None:
    assert set(SOURCES) == {"phantom", "edf", "sleep-edf", "chbmit", "tuh", "bids"}
    for name, adapter in SOURCES.items():
        assert adapter.name == name and callable(adapter.list_items) and callable(adapter.load)


@pytest.mark.parametrize(
    ("text", "code", "side", "regions", "channels"),
    [
        ("LPDs right temporal", "lpd", "right", ("temporal",), ()),
        ("Spike T3", "focal_epileptiform", "left", ("temporal",), ("T7",)),
        ("FIRDA", "grda", None, ("frontal",), ()),
        ("SPSW", "focal_epileptiform", None, (), ()),
        ("gnsz", "seizure", "generalized", (), ()),
        ("generalized spike-and-wave", "generalized_spike_wave", "generalized", (), ()),
    ],
)  # fmt: skip
def test_annotation_texts_map_with_their_place(text, code, side, regions, channels) -> None:
    known, mapped, found_side, found_regions, found_channels, _ = read_annotation(text)
    assert known and mapped.code == code
    assert (mapped.side or found_side, mapped.regions or found_regions, found_channels) == (
        side,
        regions,
        channels,
    )


@pytest.mark.parametrize(
    ("text", "known"), [("T0", False), ("eyes closed", False), ("bckg", True), ("breach rhythm", True)]
)
def test_unmapped_and_known_nothing(text: str, known: bool) -> None:
    assert read_annotation(text)[:2] == (known, None)


def test_assemble_groups_and_sets_aside() -> None:
    marks = [
        Mark("seizure", 10, 20), Mark("seizure", 30, 40), Mark("focal_epileptiform", 1, 2, "left", ("temporal",)),
        Mark("focal_epileptiform", 5, 6, "left", ("temporal",)), Mark("focal_epileptiform", 7, 8, "right"),
        Mark("lpd", 3, 4), Mark("gpd", 2, 3, "left"), Mark("pdr", 0, 10), Mark("pdr", 0, 10, frequency_hz=9.5),
        Mark("pdr_reactive", 0, 1),
    ]  # fmt: skip
    findings, aside = assemble(marks)
    codes = [f.code for f in findings]
    assert codes.count("seizure") == 2 and codes.count("focal_epileptiform") == 2
    left = next(f for f in findings if f.code == "focal_epileptiform" and f.side == "left")
    assert len(left.evidence) == 2
    assert next(f for f in findings if f.code == "gpd").side is None  # generalized by definition
    assert next(f for f in findings if f.code == "pdr").frequency_hz == 9.5
    assert aside == {"lpd: no side": 1, "pdr: no frequency": 1}


def test_state_timeline_per_epoch_and_dominant() -> None:
    timeline, dominant = state_timeline([(0, 45, "awake"), (45, 200, "n2")], 100.0)
    assert [(s.start_s, s.end_s, s.state) for s in timeline] == [
        (0, 30, "awake"), (30, 60, "n2"), (60, 90, "n2"), (90, 100, "n2")]  # fmt: skip
    assert dominant == "n2"
    assert state_timeline([], 100.0) == ([], None)


@pytest.mark.parametrize(
    ("text", "age", "sex"),
    [("67 year old woman with seizures.", 67.0, "female"), ("This is a 5-year-old boy.", 5.0, "male"),
     ("34 yo F with AMS", 34.0, "female"), ("A 45 year-old right-handed male.", 45.0, "male"),
     ("8 month old girl", 0.67, "female"), ("Patient with spells.", None, None)],
)  # fmt: skip
def test_age_and_sex_from_the_history(text: str, age, sex) -> None:
    assert age_sex(text) == (age, sex)


def test_icd10_and_atc_from_report_text() -> None:
    assert history_icd10("Epilepsy, no history of stroke. Headaches.") == ["G40.909", "R51.9"]
    assert history_icd10("Seizures and status epilepticus") == ["G40.901"]
    assert history_icd10("Denies seizures.") == []
    assert medications_atc("Keppra 500 mg BID, Depakote, Ativan PRN") == ["N03AG01", "N03AX14", "N05BA06"]
    assert medications_atc("None.") == []
