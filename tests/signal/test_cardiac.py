"""ECG artifact against the recording's own ECG lead: R peaks, the R-locked average and its test."""

from __future__ import annotations

import numpy as np
import pytest

from neuronarrator.clinical.phantom.artifacts import ecg_template
from neuronarrator.signal.cardiac import ALPHA, MIN_UV, ROW_T, ecg_artifact, ecg_locked, r_peaks

FS = 200.0


def _heart(n: int, rate_bpm: float = 72.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(beat samples, a unit-R PQRST train (n,)) with 3 % beat-to-beat jitter."""
    rng = np.random.default_rng(seed)
    rr = 60.0 / rate_bpm
    beats = np.cumsum(rr * (1 + 0.03 * rng.standard_normal(int(n / FS / rr) + 2))) + 0.3
    at = (beats[beats < n / FS - 0.5] * FS).astype(int)
    template, anchor = ecg_template(FS)  # R peak at sample `anchor` of the template
    train = np.zeros(n + len(template))
    for a in at:
        train[a - anchor : a - anchor + len(template)] += template
    return at, train[:n]


def _eeg(n: int, seed: int = 1, rms: float = 10.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.normal(0, 1, (19, n)), axis=1)
    x -= np.array([np.convolve(r, np.ones(200) / 200, mode="same") for r in x])  # drift removed
    return x * rms / x.std(axis=1, keepdims=True)


def test_r_peaks_on_a_lead_and_none_on_a_flat_or_noise_lead() -> None:
    n = int(60 * FS)
    at, train = _heart(n)
    lead = 800 * train + np.random.default_rng(2).normal(0, 20, n)
    found = r_peaks(-lead, FS)  # an inverted lead: polarity is read from the signal
    assert abs(len(found) - len(at)) <= 1
    assert np.median(np.abs(found[:, None] - at[None, :]).min(axis=1)) <= 2
    assert len(r_peaks(np.zeros(n), FS)) == 0
    assert len(r_peaks(np.random.default_rng(3).normal(0, 50, n), FS)) == 0  # no regular heartbeat
    assert len(r_peaks(lead[: int(3 * FS)], FS)) == 0  # too short to call a rhythm


def test_ecg_artifact_is_found_where_the_eeg_follows_the_lead_and_only_there() -> None:
    """A 6-µV cardiac field on three left rows under 10 µV RMS background: those rows, at the lead's rate;
    the same EEG without the field: nothing; a lead from another heart: nothing."""
    n = int(120 * FS)
    at, train = _heart(n, rate_bpm=66)
    lead = 900 * train + np.random.default_rng(4).normal(0, 15, n)
    field = np.zeros(19)
    field[[2, 7, 12]] = [6.0, 5.0, 4.0]  # F7, T7, P7
    eeg = _eeg(n)
    verdict = ecg_artifact(eeg + field[:, None] * train[None, :], lead, FS)
    assert verdict.present and set(verdict.rows) == {2, 7, 12} and verdict.rows[0] in (2, 7)
    assert verdict.heart_rate_bpm == pytest.approx(66, abs=3)
    assert verdict.ptp_uv[2] > MIN_UV and verdict.t[2] > ROW_T and verdict.p_value < ALPHA
    assert not ecg_artifact(eeg, lead, FS).present
    _, other = _heart(n, rate_bpm=81, seed=9)
    assert not ecg_artifact(eeg + field[:, None] * train[None, :], 900 * other, FS).present
    unusable = ecg_artifact(eeg, np.zeros(n), FS)
    assert not unusable.usable and not unusable.present


def test_masked_rows_are_zero() -> None:
    n = int(60 * FS)
    at, train = _heart(n)
    eeg = _eeg(n)
    eeg[5] = 0
    ptp, t = ecg_locked(eeg, 1000 * train, at, FS)
    assert ptp[5] == 0 and t[5] == 0 and ptp.shape == (19,)


def test_no_ecg_artifact_in_phantom_eeg_without_a_cardiac_field() -> None:
    """The t statistic's bar holds on EEG that has rhythms of its own (PDR, blinks): 12 phantom minutes with
    a regular lead and no cardiac field give no ECG artifact; with an 8-µV field on T7 most do."""
    from neuronarrator.clinical.phantom.generate import generate

    n = int(60 * FS)
    found_clean = found_field = 0
    for seed in range(12):
        eeg = generate([], seed=seed, duration_s=60).data_uv.astype(np.float64)
        eeg -= eeg.mean(axis=0)  # average reference, as harmonized
        _, train = _heart(n, rate_bpm=55 + 3 * seed, seed=seed)
        found_clean += ecg_artifact(eeg, 1000 * train, FS).present
        field = np.zeros(19)
        field[7] = 8.0
        found_field += ecg_artifact(eeg + field[:, None] * train, 1000 * train, FS).present
    assert found_clean == 0 and found_field >= 9


def test_rows_outside_the_mask_are_absent_even_with_data() -> None:
    """A row the harmonizer masked for the session may hold samples in some chunks: with ``row_mask`` it is
    not named, however cardiac it looks; the same rows unmasked are."""
    n = int(60 * FS)
    _, train = _heart(n)
    eeg = _eeg(n)
    eeg[7] += 12.0 * train
    mask = np.ones(19, bool)
    assert 7 in ecg_artifact(eeg, 1000 * train, FS, mask).rows
    mask[7] = False
    verdict = ecg_artifact(eeg, 1000 * train, FS, mask)
    assert 7 not in verdict.rows and verdict.ptp_uv[7] == 0 and verdict.t[7] == 0


def test_the_p_value_is_calibrated_on_eeg_that_does_not_follow_the_heart() -> None:
    """Under the null (background not locked to the beats) p is about uniform: 100 one-minute recordings give
    p < 0.05 in about 5 of them (binomial 99 % range 1-11), and none reaches the calling level."""
    n = int(60 * FS)
    p = []
    for seed in range(100):
        _, train = _heart(n, rate_bpm=60 + seed % 30, seed=seed)
        p.append(ecg_artifact(_eeg(n, seed=seed + 100), 1000 * train, FS).p_value)
    p = np.asarray(p)
    assert 1 <= int((p < 0.05).sum()) <= 11
    assert p.min() > ALPHA


def test_a_short_recording_is_tested_row_by_row() -> None:
    """20 s hold too few beats for the test over all rows (Hotelling's T² needs beats > rows): each row's
    own t, Bonferroni-corrected, decides; a 15-µV field on T7 is called there and nowhere else."""
    n = int(20 * FS)
    _, train = _heart(n)
    eeg = _eeg(n)
    field = np.zeros(19)
    field[7] = 15.0
    verdict = ecg_artifact(eeg + field[:, None] * train, 1000 * train, FS)
    assert verdict.present and verdict.rows == (7,)
    assert not ecg_artifact(eeg, 1000 * train, FS).present


def test_phantom_sessions_carry_a_lead_their_cardiac_artifact_follows() -> None:
    """The phantom's ECG lead (``ecg_lead=1``) beats with the R peaks of the cardiac field it puts into the
    EEG: over 40 shifted sessions every call is a true one, and most sessions listing ECG artifact are called.
    The EEG and the labels are the same with and without the lead."""
    from neuronarrator.corpus.sources import phantom
    from neuronarrator.corpus.sources.base import ECG_LEAD

    called = listed = false_calls = 0
    for item in phantom.list_items(sessions=40, shift=1, ecg_lead=1):
        data = phantom.load(item)
        assert data.extra_channels == (ECG_LEAD,) and data.extra_uv.shape == (1, data.data_uv.shape[1])
        truth = "ecg_artifact" in data.findings.codes
        verdict = ecg_artifact(data.data_uv, data.extra_uv[0], FS, data.channel_mask)
        assert verdict.usable
        listed += truth
        called += truth and verdict.present
        false_calls += verdict.present and not truth
    assert false_calls == 0 and listed >= 5 and called >= listed // 2
    item = next(phantom.list_items(sessions=1, shift=1, ecg_lead=1))
    plain = phantom.load(next(phantom.list_items(sessions=1, shift=1)))
    with_lead = phantom.load(item)
    assert np.array_equal(plain.data_uv, with_lead.data_uv) and plain.findings == with_lead.findings
    assert plain.extra_channels == ()


def test_beats_taken_in_batches_give_the_same_verdict(monkeypatch) -> None:
    """The windows are filtered and summed a batch of beats at a time (bounded memory on long records): any
    batch size gives the same sums, so the same test."""
    import neuronarrator.signal.cardiac as cardiac

    n = int(60 * FS)
    _, train = _heart(n)
    eeg = _eeg(n)
    eeg[7] += 3.0 * train
    whole = ecg_artifact(eeg, 1000 * train, FS)
    monkeypatch.setattr(cardiac, "_BEATS_PER_BATCH", 7)
    batched = ecg_artifact(eeg, 1000 * train, FS)
    assert batched.p_value == pytest.approx(whole.p_value, rel=1e-6) and batched.rows == whole.rows
    np.testing.assert_allclose(batched.t, whole.t, rtol=1e-8)
