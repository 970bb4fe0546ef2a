"""Dataset labels into the findings vocabulary."""

from __future__ import annotations

import pytest

from neuronarrator.clinical.findings import CODES, SIDES, STATES, Finding, FindingsError
from neuronarrator.clinical.mappings import (
    SCORE_TERMS,
    TUSZ_LABELS,
    Mapped,
    from_score,
    from_sleep_edf,
    from_tuab,
    from_tuev,
    from_tusz,
)


@pytest.mark.parametrize(
    ("label", "code"),
    [
        ("SPSW", "focal_epileptiform"),
        ("gped", "gpd"),
        ("PLED", "lpd"),
        ("EYEM", "eye_movement_artifact"),
        ("ARTF", "muscle_artifact"),
        ("BCKG", None),
        (" bckg ", None),
        (1, "focal_epileptiform"),
        (2, "gpd"),
        (3, "lpd"),
        (4, "eye_movement_artifact"),
        (5, "muscle_artifact"),
        ("6", None),
    ],
)
def test_tuev(label, code) -> None:
    assert from_tuev(label) == code


@pytest.mark.parametrize("label", ["SPIKE", "", 0, 7, "artifact"])
def test_tuev_unknown_names_the_label(label) -> None:
    with pytest.raises(FindingsError, match=repr(label) if label != "" else "TUEV"):
        from_tuev(label)


def test_tuab() -> None:
    assert from_tuab("normal") == "normal"
    assert from_tuab("Abnormal") == "abnormal"
    with pytest.raises(FindingsError, match="'borderline'"):
        from_tuab("borderline")


@pytest.mark.parametrize(
    ("label", "side"),
    [("FNSZ", None), ("SPSZ", None), ("CPSZ", None), ("GNSZ", "generalized"), ("ABSZ", "generalized"),
     ("TNSZ", "generalized"), ("CNSZ", "generalized"), ("TCSZ", "generalized"), ("ATSZ", "generalized"),
     ("MYSZ", "generalized"), ("seiz", None)],
)  # fmt: skip
def test_tusz_seizure_types(label, side) -> None:
    mapped = from_tusz(label)
    assert mapped == Mapped("seizure", side)
    Finding(mapped.code, side=mapped.side)  # valid in the schema


def test_tusz_background_and_nonepileptic_are_not_seizures() -> None:
    assert from_tusz("bckg") is None
    assert from_tusz("NESZ") is None
    with pytest.raises(FindingsError, match="'XXSZ'"):
        from_tusz("XXSZ")


@pytest.mark.parametrize(
    ("label", "state"),
    [
        ("Sleep stage W", "awake"),
        ("Sleep stage 1", "n1"),
        ("Sleep stage 2", "n2"),
        ("Sleep stage 3", "n3"),
        ("Sleep stage 4", "n3"),  # R&K 3 and 4 are AASM N3
        ("Sleep stage R", "rem"),
        ("Sleep stage ?", None),
        ("Movement time", None),
        ("W", "awake"),
        ("4", "n3"),
        ("R", "rem"),
        ("M", None),
        ("?", None),
    ],
)
def test_sleep_edf(label, state) -> None:
    assert from_sleep_edf(label) == state


def test_sleep_edf_unknown() -> None:
    with pytest.raises(FindingsError, match="'Sleep stage 5'"):
        from_sleep_edf("Sleep stage 5")


@pytest.mark.parametrize(
    ("term", "mapped"),
    [
        ("PLEDs", Mapped("lpd")),
        ("BIPLEDs", Mapped("lpd", "bilateral")),
        ("GPEDs", Mapped("gpd")),
        ("triphasic waves", Mapped("gpd")),
        ("FIRDA", Mapped("grda", None, ("frontal",))),
        ("OIRDA", Mapped("grda", None, ("occipital",))),
        ("TIRDA", Mapped("lrda", None, ("temporal",))),
        ("spike-and-wave", Mapped("generalized_spike_wave")),
        ("polyspike", Mapped("generalized_spike_wave")),
        ("Burst suppression", Mapped("burst_suppression")),
        ("breach rhythm", None),
        ("wicket spikes", None),
    ],
)
def test_score_terms(term, mapped) -> None:
    assert from_score(term) == mapped


def test_score_unknown() -> None:
    with pytest.raises(FindingsError, match="'alpha squeak'"):
        from_score("alpha squeak")


def test_tables_speak_the_vocabulary() -> None:
    for mapped in [*SCORE_TERMS.values(), *TUSZ_LABELS.values()]:
        if mapped is None:
            continue
        assert mapped.code in CODES
        assert mapped.side is None or mapped.side in SIDES
    assert {from_sleep_edf(s) for s in "W1234R"} <= set(STATES)
