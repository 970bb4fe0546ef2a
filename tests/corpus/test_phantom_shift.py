"""The distribution-shifted phantom set (``phantom?shift=1``): distinct keys and seeds, a measurable shift
in background, gain, noise and montage, and labels that stay true for the stored signal."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest

from neuronarrator.clinical.findings import Findings
from neuronarrator.clinical.label import label_report
from neuronarrator.clinical.phantom import PARAMETERS, shift
from neuronarrator.clinical.phantom.canvas import stream
from neuronarrator.clinical.phantom.subject import draw_findings
from neuronarrator.corpus.build import build_corpus
from neuronarrator.corpus.manifest import MANIFEST_NAME, read_table
from neuronarrator.corpus.sources import phantom
from neuronarrator.corpus.sources.base import SFREQ_HZ
from neuronarrator.io.channels import CANONICAL_19
from neuronarrator.io.harmonize import harmonize
from neuronarrator.io.recording import Recording

DURATION_S = 20.0
N_SESSIONS = 6


@cache
def _items(seed: int = 2, level: int = 1) -> tuple:
    return tuple(phantom.list_items(None, sessions=N_SESSIONS, duration_s=DURATION_S, seed=seed, shift=level))


@cache
def _loaded(index: int):
    return phantom.load(_items()[index])


def test_shift_zero_is_the_unshifted_listing() -> None:
    default = list(phantom.list_items(None, sessions=8, duration_s=DURATION_S, seed=2))
    assert list(phantom.list_items(None, sessions=8, duration_s=DURATION_S, seed=2, shift=0)) == default
    assert all(i.key.startswith("phantom/") and "shift" not in i.options for i in default)
    a, b = phantom.load(default[0]), phantom.load(default[0])
    assert "shift" not in a.meta and np.array_equal(a.data_uv, b.data_uv)


def test_shifted_keys_patients_and_seeds_are_distinct_and_deterministic() -> None:
    shifted, plain = _items(), _items(level=0)
    assert [i.key for i in shifted] == [f"phantom-shift/{i:06d}" for i in range(N_SESSIONS)]
    assert all(i.patient.startswith("phantom-shift:p") and i.options["shift"] == 1 for i in shifted)
    assert not {i.key for i in shifted} & {i.key for i in plain}
    assert not {i.patient for i in shifted} & {i.patient for i in plain}
    seeds = lambda items, name: {i.options[name] for i in items}  # noqa: E731
    assert not seeds(shifted, "seed") & seeds(plain, "seed")
    assert not seeds(shifted, "patient_seed") & seeds(plain, "patient_seed")
    assert (
        tuple(phantom.list_items(None, sessions=N_SESSIONS, duration_s=DURATION_S, seed=2, shift=1))
        == shifted
    )
    longer = list(phantom.list_items(None, sessions=N_SESSIONS + 4, duration_s=DURATION_S, seed=2, shift=1))
    assert tuple(longer[:N_SESSIONS]) == shifted  # raising sessions only appends
    with pytest.raises(ValueError, match="shift"):
        list(phantom.list_items(None, sessions=1, shift=2))


def test_load_is_deterministic_and_records_the_shift() -> None:
    data, again = _loaded(0), phantom.load(_items()[0])
    assert np.array_equal(data.data_uv, again.data_uv) and data.findings == again.findings
    assert data.narrative == again.narrative and data.meta["shift"] == again.meta["shift"]
    meta = data.meta["shift"]
    for key in ("level", "population", "gain", "sensor_noise_rms_uv", "mains_rms_uv", "bad_electrodes",
                "reference", "background", "eligible_channels", "undetected"):  # fmt: skip
        assert key in meta
    assert meta["level"] == 1 and meta["population"] in shift.POPULATIONS
    assert data.meta["original_reference"] == meta["reference"]
    assert data.data_uv.shape == (19, int(DURATION_S * SFREQ_HZ)) and data.data_uv.dtype == np.float32


def test_shift_is_outside_the_training_ranges() -> None:
    for index in range(N_SESSIONS):
        meta = _loaded(index).meta
        s, subject = meta["shift"], meta["subject"]
        assert 0.5 <= s["gain"] <= 0.7 or 1.6 <= s["gain"] <= 2.2
        assert s["sensor_noise_rms_uv"] >= 0.5  # training: 0.5 µV instrument noise
        exponent = s["background"]["aperiodic_exponent"]
        training = PARAMETERS["aperiodic_exponent"]
        assert exponent <= training.low or exponent >= training.high
        assert subject["aperiodic_exponent"] == round(exponent, 3)
        if "pdr_frequency_hz" in s["background"]:  # not slowed by a finding: at the edge of the range
            assert not 8.5 < subject["pdr_frequency_hz"] < 11.5
        assert subject["age_years"] >= 85 or subject["age_years"] <= 22


def test_bad_electrodes_are_detected_and_interpolated() -> None:
    kinds, references = set(), set()
    for index in range(N_SESSIONS):
        data = _loaded(index)
        s, h = data.meta["shift"], data.meta["harmonize"]
        assert 1 <= len(s["bad_electrodes"]) <= 3 and s["undetected"] == []
        reasons = {flag["channel"]: flag["reason"] for flag in h["quality"]["bad_channels"]}
        for bad in s["bad_electrodes"]:
            kinds.add(bad["kind"])
            assert bad["channel"] in h["channels_interpolated"]
            assert reasons[bad["channel"]] == ("flat" if bad["kind"] == "flat" else "extreme_amplitude")
        references.add(s["reference"])
        if s["reference"] == "Cz":
            assert h["channels_missing"] == ["Cz"] and "Cz" in h["channels_interpolated"]
        # nothing else is interpolated, and only channels no local finding names
        expected = {b["channel"] for b in s["bad_electrodes"]} | ({"Cz"} if s["reference"] == "Cz" else set())
        assert set(h["channels_interpolated"]) == expected
        assert expected <= set(shift.eligible_channels(data.findings))
        assert data.channel_mask.all()
        assert h["line_freq_hz"] is not None  # the ambient mains was notched
    assert len(kinds) >= 2 and references  # the few sessions here already mix kinds


def test_labels_stay_valid_and_truthful() -> None:
    for index in range(N_SESSIONS):
        data = _loaded(index)
        assert Findings.from_dict(data.findings.to_dict()) == data.findings  # validates every finding
        assert "line_noise" not in data.findings.codes  # the mains is notched away
        assert label_report(data.narrative).impression == data.findings.impression
        # the generator's findings are the drawn ones (plus the extra muscle artifact, never line noise)
        item = _items()[index]
        state, drawn = draw_findings(stream(int(item.options["seed"]), "findings"))
        requested = {spec.split(":")[0] for spec in data.meta["requested"]}
        drawn_codes = {spec.split(":")[0] for spec in drawn} - {"line_noise"}
        assert requested - drawn_codes <= {"muscle_artifact"} and drawn_codes - requested <= {"seizure"}
        assert data.findings.state_timeline[0].state == state
        if "burst_suppression" in data.findings.codes:
            assert data.meta["shift"]["gain"] <= 0.7
        if "excess_beta" in data.findings.codes or state == "n3":
            assert data.meta["shift"]["gain"] >= 1.6


def _rms(x: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean(x.astype(np.float64) ** 2, axis=-1))


def test_amplitude_follows_the_drawn_gain() -> None:
    """Same session with and without the signal-level shift: the RMS ratio is the gain, up to sensor noise."""
    for index in range(3):
        item, data = _items()[index], _loaded(index)
        seed, s = int(item.options["seed"]), data.meta["shift"]
        state, drawn = draw_findings(stream(seed, "findings"))
        slowed = any(spec.split(":")[0] in phantom.PDR_SLOWED_BY for spec in drawn)
        subject = phantom.draw_subject(
            stream(int(item.options["patient_seed"]), "subject"), slowed_pdr=slowed
        )
        _, rec, plan = phantom._shifted_session(item, seed, DURATION_S, subject, state, drawn, slowed)
        assert plan.gain == pytest.approx(s["gain"], abs=1e-4)
        plain = harmonize(Recording.from_array(rec.data_uv, rec.sfreq_hz, list(CANONICAL_19))).data_uv
        good = [
            i
            for i, ch in enumerate(CANONICAL_19)
            if ch not in data.meta["harmonize"]["channels_interpolated"]
        ]
        reference = _rms(plain[good])
        ratio = float(np.median(_rms(data.data_uv[good]) / reference))
        # white noise n µV RMS keeps ~70 % of its power in the 0.5-70 Hz band the harmonizer passes
        noise = 0.7 * s["sensor_noise_rms_uv"] ** 2 / float(np.median(reference)) ** 2
        expected = float(np.sqrt(s["gain"] ** 2 + noise))
        assert ratio == pytest.approx(expected, rel=0.12), (index, s["gain"], ratio, expected)


def test_building_a_corpus_with_training_and_shifted_sets(tmp_path: Path) -> None:
    sources = [
        ("phantom", None, {"sessions": 2, "duration_s": DURATION_S, "seed": 2}),
        ("phantom", None, {"sessions": 3, "duration_s": DURATION_S, "seed": 2, "shift": 1}),
    ]
    report = build_corpus(sources, tmp_path / "c", shard_sessions=4, scheduler="synchronous")
    assert report.sessions == 5 and not report.skipped
    manifest = read_table(tmp_path / "c" / MANIFEST_NAME, columns=["key", "patient"]).to_pylist()
    keys = {row["key"] for row in manifest}
    assert {k for k in keys if k.startswith("phantom-shift/")} == {f"phantom-shift/{i:06d}" for i in range(3)}
    assert {k for k in keys if k.startswith("phantom/")} == {"phantom/000000", "phantom/000001"}
    assert all(row["patient"].startswith("phantom-shift:") for row in manifest if "shift" in row["key"])
