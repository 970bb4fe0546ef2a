"""Label canonicalization (io/channels.py): the many spellings of one electrode map to one name; the double
banana of a session in either montage."""

from __future__ import annotations

import numpy as np
import pytest

from neuronarrator.io.channels import (
    CANONICAL_19,
    DOUBLE_BANANA_NAMES,
    bipolar_matrix,
    canonical_label,
    classify_channels,
    double_banana,
    is_bipolar_only,
)


@pytest.mark.parametrize(
    ("label", "canonical"),
    [
        ("EEG FP1-REF", "Fp1"),
        ("EEG T3-LE", "T7"),
        ("EEG T4-REF", "T8"),
        ("EEG T5-REF", "P7"),
        ("EEG T6-LE", "P8"),
        ("T3", "T7"),
        ("T4", "T8"),
        ("T5", "P7"),
        ("T6", "P8"),
        ("Fp1.", "Fp1"),
        ("FP1", "Fp1"),
        ("Fp1-Ref", "Fp1"),
        ("fp1", "Fp1"),
        ("EEG FZ-LE", "Fz"),
        ("CZ", "Cz"),
        ("Fc5.", "FC5"),  # EEGMMI pads labels with dots
        ("T7..", "T7"),
        ("Tp8.", "TP8"),
        ("Iz..", "Iz"),
        ("EEG A1-REF", "A1"),
    ],
)
def test_referential_labels_map_to_canonical_names(label: str, canonical: str) -> None:
    parsed = canonical_label(label)
    assert parsed.kind == "eeg"
    assert parsed.canonical == canonical
    assert parsed.original == label


@pytest.mark.parametrize(
    ("label", "kind"),
    [
        ("EEG EKG1-REF", "ecg"),
        ("ECG", "ecg"),
        ("EOG horizontal", "eog"),
        ("EEG LOC-REF", "eog"),
        ("ROC", "eog"),
        ("EMG submental", "emg"),
        ("EMG chin", "emg"),
        ("Resp oro-nasal", "resp"),
        ("SpO2", "spo2"),
        ("PHOTIC-REF", "photic"),
        ("IBI", "photic"),
        ("Temp rectal", "temp"),
        ("DC03", "dc"),
        ("Event marker", "event"),
        ("STI 014", "event"),
        ("E", "other"),
        ("X1", "other"),
        ("EEG 26-REF", "other"),
    ],
)
def test_non_eeg_labels_get_their_kind(label: str, kind: str) -> None:
    parsed = canonical_label(label)
    assert parsed.kind == kind
    assert parsed.canonical is None
    assert not parsed.in_canonical_19


@pytest.mark.parametrize(
    ("label", "derivation"),
    [
        ("FP1-F7", "Fp1-F7"),
        ("T8-P8", "T8-P8"),
        ("T8-P8-0", "T8-P8"),  # MNE makes repeated labels unique by appending -0, -1
        ("T8-P8-1", "T8-P8"),
        ("FZ-CZ", "Fz-Cz"),
        ("FT9-FT10", "FT9-FT10"),
        ("EEG T3-T5", "T7-P7"),
        ("EEG Fpz-Cz", "Fpz-Cz"),  # Sleep-EDF
        ("EEG Pz-Oz", "Pz-Oz"),
    ],
)
def test_bipolar_derivations(label: str, derivation: str) -> None:
    parsed = canonical_label(label)
    assert parsed.kind == "bipolar"
    assert parsed.canonical == derivation


def test_classify_channels_is_one_to_one(label_sets: dict[str, tuple[str, ...]]) -> None:
    parsed = classify_channels(list(label_sets["chbmit"]))
    assert len(parsed) == 23
    t8p8 = [p for p in parsed if p.original == "T8-P8"]
    assert [p.kind for p in t8p8] == ["bipolar", "other"]  # the repeat is demoted, first one wins
    canonicals = [p.canonical for p in parsed if p.canonical is not None]
    assert len(canonicals) == len(set(canonicals))
    assert is_bipolar_only(parsed)


def test_tuh_labels_cover_the_canonical_19(label_sets: dict[str, tuple[str, ...]]) -> None:
    parsed = classify_channels(list(label_sets["tuh"]))
    found = {p.canonical for p in parsed if p.in_canonical_19}
    assert found == set(CANONICAL_19)
    assert not is_bipolar_only(parsed)
    kinds = {p.original: p.kind for p in parsed}
    assert kinds["EEG EKG1-REF"] == "ecg"
    assert kinds["PHOTIC-REF"] == "photic"


def test_nihon_kohden_labels(label_sets: dict[str, tuple[str, ...]]) -> None:
    parsed = classify_channels(list(label_sets["nihon_kohden"]))
    assert {p.canonical for p in parsed if p.in_canonical_19} == set(CANONICAL_19)
    assert {p.original: p.kind for p in parsed if not p.in_canonical_19} == {
        "E": "other",
        "DC03": "dc",
        "X1": "other",
    }


def test_double_banana_of_referential_and_bipolar_sessions():
    rng = np.random.default_rng(0)
    data = (20 * rng.standard_normal((19, 400))).astype(np.float32)
    mask = np.ones(19, bool)
    mask[CANONICAL_19.index("F3")] = False
    data[CANONICAL_19.index("F3")] = 0.0
    rows, present = double_banana(data, mask, "referential")
    assert rows.shape == (18, data.shape[1]) and present.shape == (18,)
    missing = {name for name, ok in zip(DOUBLE_BANANA_NAMES, present, strict=True) if not ok}
    assert missing == {"Fp1-F3", "F3-C3"}
    np.testing.assert_allclose(
        rows[present], (bipolar_matrix() @ data.astype(np.float64))[present], atol=1e-3
    )
    assert not rows[~present].any()

    bipolar = data.copy()
    bipolar[18] = np.nan  # the unused row
    bip_mask = np.ones(19, bool)
    bip_mask[[3, 18]] = False
    rows, present = double_banana(bipolar, bip_mask, "bipolar")
    assert present.sum() == 17 and not present[3]
    np.testing.assert_array_equal(rows[present], bipolar[:18][present])
    with pytest.raises(ValueError, match="montage"):
        double_banana(data, mask, "laplacian")
