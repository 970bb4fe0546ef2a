"""The harmonized contract: 19 channels, 200 Hz, float32 µV, average reference; interpolation, masks,
mains notch, errors, bipolar-only recordings, chunks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from neuronarrator.io.channels import CANONICAL_19, DOUBLE_BANANA, DOUBLE_BANANA_NAMES, bipolar_matrix
from neuronarrator.io.errors import (
    FlatSignalError,
    InputError,
    NoEEGChannelsError,
    NonFiniteSignalError,
    RecordingTooShortError,
    SamplingRateError,
)
from neuronarrator.io.harmonize import Harmonized, harmonize
from neuronarrator.io.read import read_recording
from neuronarrator.io.recording import Event, Recording
from neuronarrator.signal.interpolate import head_origin_m, spherical_spline_matrix
from neuronarrator.signal.synthetic import pink_noise_uv

TUH_19 = tuple(
    f"EEG {name}-REF" for name in "FP1 FP2 F7 F3 FZ F4 F8 T3 C3 CZ C4 T4 T5 P3 PZ P4 T6 O1 O2".split()
)  # same order as CANONICAL_19, old temporal names
CHBMIT_MNE_LABELS = (
    "FP1-F7", "F7-T7", "T7-P7", "P7-O1", "FP1-F3", "F3-C3", "C3-P3", "P3-O1", "FP2-F4", "F4-C4",
    "C4-P4", "P4-O2", "FP2-F8", "F8-T8", "T8-P8-0", "P8-O2", "FZ-CZ", "CZ-PZ", "P7-T7", "T7-FT9",
    "FT9-FT10", "FT10-T8", "T8-P8-1",
)  # fmt: skip
#: A zero-mean spatial pattern: the average reference leaves a signal with this pattern unchanged.
PATTERN = np.where(np.arange(19) % 2 == 0, 1.0, -1.0)
PATTERN[-1] = 0.0


def noise_uv(
    n_chans: int, sfreq_hz: float, duration_s: float, seed: int = 0, rms_uv: float = 5.0
) -> np.ndarray:
    """Independent 1/f noise per channel, ``rms_uv`` rms."""
    return pink_noise_uv(seed, n_chans, int(round(sfreq_hz * duration_s)), sfreq_hz, rms_uv=rms_uv)


def sine(sfreq_hz: float, duration_s: float, freq_hz: float, amplitude_uv: float) -> np.ndarray:
    t = np.arange(int(round(sfreq_hz * duration_s))) / sfreq_hz
    return amplitude_uv * np.sin(2 * np.pi * freq_hz * t)


def alpha_recording(
    sfreq_hz: float = 256.0, duration_s: float = 30.0, labels=CANONICAL_19, **kw
) -> Recording:
    data = PATTERN[:, None] * sine(sfreq_hz, duration_s, 10.0, 50.0) + noise_uv(19, sfreq_hz, duration_s)
    return Recording.from_array(data, sfreq_hz, list(labels), **kw)


def amplitude_at(data_uv: np.ndarray, sfreq_hz: float, freq_hz: float) -> np.ndarray:
    """Amplitude (µV) of the sinusoid at ``freq_hz`` in each row (projection on sin/cos, edges trimmed)."""
    trim = int(2 * sfreq_hz)
    x = data_uv[..., trim:-trim].astype(np.float64)
    t = np.arange(x.shape[-1]) / sfreq_hz
    basis = np.exp(-2j * np.pi * freq_hz * t)
    return 2 * np.abs(x @ basis) / t.size


def peak_freq_hz(row_uv: np.ndarray, sfreq_hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(row_uv * np.hanning(row_uv.size)))
    return float(np.fft.rfftfreq(row_uv.size, 1 / sfreq_hz)[spectrum.argmax()])


# ---------------------------------------------------------------- the contract


def test_output_contract_shape_dtype_order_rate_and_scale() -> None:
    h = harmonize(alpha_recording())
    assert isinstance(h, Harmonized)
    assert h.data_uv.shape == (19, 6000) and h.data_uv.dtype == np.float32
    assert h.channels == CANONICAL_19 and h.sfreq_hz == 200.0 and h.montage == "referential"
    assert h.referential_available and h.channel_mask.all() and h.channel_mask.dtype == bool
    assert h.channels_missing == h.channels_interpolated == h.channels_masked == ()
    assert h.extra_uv.shape == (0, 6000) and h.extra_channels == ()
    assert h.source_sfreq_hz == 256.0 and h.duration_s == 30.0 and h.start_s == 0.0
    assert h.band_hz == (0.5, 70.0)
    amp = amplitude_at(h.data_uv, 200.0, 10.0)
    np.testing.assert_allclose(amp[:18], 50.0, rtol=0.02)  # a 50 µV 10 Hz sine stays 50 µV
    assert amp[18] < 1.0


def test_average_reference_sums_to_zero() -> None:
    data = noise_uv(19, 250.0, 20.0) + 40.0  # a common offset and independent signals
    data[:5] += sine(250.0, 20.0, 6.0, 30.0)
    h = harmonize(Recording.from_array(data, 250.0, list(CANONICAL_19)))
    assert np.abs(h.data_uv.mean(axis=0)).max() < 1e-3
    assert h.data_uv.std() > 1.0


def test_tuh_labels_and_old_names_map_to_the_canonical_rows() -> None:
    labels = list(TUH_19[::-1]) + ["EEG A1-REF", "EEG EKG1-REF", "PHOTIC-REF"]  # scrambled order, extras
    data = noise_uv(len(labels), 250.0, 20.0, rms_uv=20.0)
    data[labels.index("EEG T3-REF")] += sine(250.0, 20.0, 7.0, 40.0)
    data[labels.index("EEG T6-REF")] += sine(250.0, 20.0, 13.0, 40.0)
    data[labels.index("EEG EKG1-REF")] += 1000.0  # not EEG: must not enter
    h = harmonize(Recording.from_array(data, 250.0, labels))
    assert h.channels == CANONICAL_19 and h.channel_mask.all()
    assert peak_freq_hz(h.data_uv[CANONICAL_19.index("T7")], 200.0) == pytest.approx(7.0, abs=0.1)
    assert peak_freq_hz(h.data_uv[CANONICAL_19.index("P8")], 200.0) == pytest.approx(13.0, abs=0.1)


@pytest.mark.parametrize("sfreq_hz", [160.0, 256.0, 250.0, 500.0, 100.0, 1000.0, 200.0])
def test_resampling_preserves_frequency_and_amplitude(sfreq_hz: float) -> None:
    h = harmonize(alpha_recording(sfreq_hz, 20.0))
    assert h.data_uv.shape == (19, 4000)
    assert peak_freq_hz(h.data_uv[0], 200.0) == pytest.approx(10.0, abs=0.06)
    np.testing.assert_allclose(amplitude_at(h.data_uv, 200.0, 10.0)[:18], 50.0, rtol=0.02)
    assert h.band_hz == (0.5, 45.0 if sfreq_hz == 100.0 else 70.0)  # capped below the file's Nyquist


@pytest.mark.parametrize("line_hz", [50.0, 60.0])
def test_mains_is_detected_and_notched(line_hz: float) -> None:
    fs = 500.0
    data = PATTERN[:, None] * sine(fs, 30.0, 10.0, 50.0) + noise_uv(19, fs, 30.0)
    mains = sine(fs, 30.0, line_hz, 1.0) + sine(fs, 30.0, 3 * line_hz, 1.0)
    data += np.linspace(10, 30, 19)[:, None] * mains  # pick-up differs per electrode
    h = harmonize(Recording.from_array(data, fs, list(CANONICAL_19)))
    assert h.line_freq_hz == line_hz
    before = amplitude_at(data - data.mean(axis=0), fs, line_hz)
    after = amplitude_at(h.data_uv, 200.0, line_hz)
    assert after.max() < 0.01 * before.max()  # > 40 dB down
    np.testing.assert_allclose(amplitude_at(h.data_uv, 200.0, 10.0)[:18], 50.0, rtol=0.03)


def test_given_line_frequency_is_used_and_no_notch_without_one() -> None:
    assert harmonize(alpha_recording(), line_freq_hz=50.0).line_freq_hz == 50.0
    assert harmonize(alpha_recording()).line_freq_hz is None


# ---------------------------------------------------------------- missing and bad channels


def test_missing_channels_are_interpolated_and_reported() -> None:
    rec = alpha_recording()
    keep = [i for i, ch in enumerate(CANONICAL_19) if ch not in ("O1", "T7")]
    rec = Recording.from_array(
        rec.get_data_uv(list(CANONICAL_19))[keep], 256.0, [CANONICAL_19[i] for i in keep]
    )
    h = harmonize(rec)
    assert h.channels_missing == ("T7", "O1") and h.channels_interpolated == ("T7", "O1")
    assert h.channels_masked == () and h.channel_mask.all()
    assert [(f.channel, f.reason) for f in h.quality.bad_channels] == [("T7", "missing"), ("O1", "missing")]
    assert np.abs(h.data_uv[[7, 17]]).max() > 1.0
    assert any("interpolated" in w for w in h.quality.warnings)


def test_mask_policy_zeroes_flags_and_reports() -> None:
    rec = alpha_recording()
    keep = [i for i in range(19) if CANONICAL_19[i] != "O1"]
    data = rec.get_data_uv(list(CANONICAL_19))[keep]
    data[CANONICAL_19.index("Cz")] = 0.0  # flat: bad
    rec = Recording.from_array(data, 256.0, [CANONICAL_19[i] for i in keep])
    h = harmonize(rec, missing="mask")
    assert h.channels_masked == ("Cz", "O1") and h.channels_missing == ("O1",)
    assert h.channels_interpolated == ()
    assert not h.channel_mask[[9, 17]].any() and h.channel_mask.sum() == 17
    assert np.all(h.data_uv[[9, 17]] == 0)
    assert np.abs(h.data_uv[h.channel_mask].mean(axis=0)).max() < 1e-3  # reference over the good ones
    assert ("Cz", "flat") in [(f.channel, f.reason) for f in h.quality.bad_channels]
    bipolar_uv, names = h.bipolar()
    assert names == DOUBLE_BANANA_NAMES
    mask = h.bipolar_mask()
    assert mask.sum() == 18 - 4  # P7-O1, P3-O1, Fz-Cz and Cz-Pz touch a masked electrode
    assert np.all(bipolar_uv[~mask] == 0)


def test_too_few_good_channels_mask_instead_of_interpolating() -> None:
    rec = alpha_recording()
    present = list(CANONICAL_19[:9])
    h = harmonize(Recording.from_array(rec.get_data_uv(present), 256.0, present))
    assert h.channels_interpolated == () and len(h.channels_masked) == 10
    assert h.channel_mask.sum() == 9
    assert any("masked, not interpolated" in w for w in h.quality.warnings)


def test_bad_channels_are_interpolated() -> None:
    rec = alpha_recording(250.0, 20.0)
    data = rec.get_data_uv(list(CANONICAL_19))
    data[3] = 12.0  # flat
    data[11] *= 10  # extreme amplitude
    h = harmonize(Recording.from_array(data, 250.0, list(CANONICAL_19)))
    assert h.channels_interpolated == ("F3", "T8") and h.channels_missing == ()
    reasons = {f.channel: f.reason for f in h.quality.bad_channels}
    assert reasons == {"F3": "flat", "T8": "extreme_amplitude"}
    # a bad channel is treated exactly as an absent one
    good = [ch for ch in CANONICAL_19 if ch not in ("F3", "T8")]
    without = harmonize(Recording.from_array(data[[CANONICAL_19.index(ch) for ch in good]], 250.0, good))
    np.testing.assert_allclose(h.data_uv, without.data_uv, atol=1e-3)


def test_nan_runs_are_bridged_and_reported() -> None:
    rec = alpha_recording(200.0, 30.0)
    data = rec.get_data_uv(list(CANONICAL_19))
    data[4, 2000:2300] = np.nan
    h = harmonize(Recording.from_array(data, 200.0, list(CANONICAL_19)))
    assert np.isfinite(h.data_uv).all()
    assert [(s.start_s, s.end_s, s.channels, s.reason) for s in h.quality.bad_spans] == [
        (10.0, 12.0, ("Fz",), "nan")
    ]
    assert h.channel_mask.all() and h.channels_interpolated == ()
    assert np.abs(h.data_uv[:, :1800]).max() < 1e3  # nothing spread far from the gap


# ---------------------------------------------------------------- real data


def _dropping(rec: Recording, canonical: str, only_19: bool = False) -> Recording:
    keep = [lab.original for lab in rec.labels
            if lab.canonical != canonical and (lab.in_canonical_19 or not only_19)]  # fmt: skip
    return Recording.from_array(rec.get_data_uv(keep), rec.sfreq_hz, keep)


@pytest.mark.parametrize("run", ["S001R01", "S001R02"])
def test_real_eegmmi_harmonizes_cleanly(shared_data: Path, run: str) -> None:
    h = harmonize(read_recording(shared_data / "eegmmidb" / f"{run}.edf"))
    assert h.data_uv.shape == (19, 12000) and h.channel_mask.all()
    assert h.quality.bad_channels == [] and h.line_freq_hz == 60.0
    assert 5.0 < float(np.median(h.data_uv.std(axis=1))) < 100.0


def test_real_eegmmi_o1_interpolated_matches_the_recorded_one(shared_data: Path) -> None:
    rec = read_recording(shared_data / "eegmmidb" / "S001R02.edf")  # eyes closed: posterior alpha
    o1 = CANONICAL_19.index("O1")
    real = harmonize(rec).data_uv[o1]
    h = harmonize(_dropping(rec, "O1"))
    assert h.channels_missing == ("O1",) and h.channels_interpolated == ("O1",)
    r_all = np.corrcoef(real, h.data_uv[o1])[0, 1]
    assert r_all > 0.94  # measured 0.973 (from the 63 other electrodes of the 10-10 cap)
    r_19 = np.corrcoef(real, harmonize(_dropping(rec, "O1", only_19=True)).data_uv[o1])[0, 1]
    assert r_19 > 0.80  # measured 0.839 (from the other 18 of the 10-20 system only)


def test_real_sleep_edf_is_bipolar_with_two_extras(shared_data: Path) -> None:
    h = harmonize(read_recording(shared_data / "sleep-edf" / "SC4001E0-PSG_first300s.edf"))
    assert h.montage == "bipolar" and not h.referential_available
    assert h.data_uv.shape == (18, 60000) and h.sfreq_hz == 200.0 and h.source_sfreq_hz == 100.0
    assert not h.channel_mask.any() and h.channels_missing == DOUBLE_BANANA_NAMES
    assert h.extra_channels == ("Fpz-Cz", "Pz-Oz")
    assert h.extra_uv.shape == (2, 60000) and h.extra_uv.dtype == np.float32
    assert np.all((h.extra_uv.std(axis=1) > 3) & (h.extra_uv.std(axis=1) < 100))
    assert h.band_hz == (0.5, 45.0)
    assert h.bipolar()[0] is h.data_uv
    json.dumps(h.to_dict())


# ---------------------------------------------------------------- bipolar


def test_bipolar_view_equals_the_explicit_differences() -> None:
    h = harmonize(alpha_recording())
    bipolar_uv, names = h.bipolar()
    assert bipolar_uv.shape == (18, h.n_times) and names == DOUBLE_BANANA_NAMES and h.bipolar_mask().all()
    for row, (anode, cathode) in enumerate(DOUBLE_BANANA):
        expected = h.data_uv[CANONICAL_19.index(anode)] - h.data_uv[CANONICAL_19.index(cathode)]
        np.testing.assert_allclose(bipolar_uv[row], expected, atol=1e-4)


def test_chbmit_style_bipolar_array_gives_the_double_banana() -> None:
    fs, seconds = 256.0, 20.0
    referential = PATTERN[:, None] * sine(fs, seconds, 10.0, 50.0) + noise_uv(19, fs, seconds)
    bipolar = bipolar_matrix().astype(np.float64) @ referential
    others = noise_uv(5, fs, seconds, seed=9)
    data = np.concatenate([bipolar[:18], -bipolar[2:3], others[:3], bipolar[14:15]])  # P7-T7 = -(T7-P7)
    rec = Recording.from_array(data, fs, list(CHBMIT_MNE_LABELS))
    h = harmonize(rec)
    assert h.montage == "bipolar" and not h.referential_available
    assert h.data_uv.shape == (18, 4000) and h.channels == DOUBLE_BANANA_NAMES and h.channel_mask.all()
    assert h.extra_channels == ("P7-T7", "T7-FT9", "FT9-FT10", "FT10-T8")  # T8-P8-1 repeats T8-P8: dropped
    assert h.channels_missing == h.channels_masked == ()
    # the same signals given referentially and viewed as bipolar agree with the bipolar-only path
    from_referential, _ = harmonize(Recording.from_array(referential, fs, list(CANONICAL_19))).bipolar()
    np.testing.assert_allclose(h.data_uv, from_referential, atol=0.05)


def test_bipolar_reversed_and_absent_derivations() -> None:
    fs = 256.0
    labels = ["F7-FP1", "F7-T7", "FZ-CZ"]
    data = noise_uv(3, fs, 15.0, rms_uv=20.0) + np.array([[1.0], [0.0], [0.0]]) * sine(fs, 15.0, 10.0, 30.0)
    h = harmonize(Recording.from_array(data, fs, labels))
    assert h.channel_mask.sum() == 3 and len(h.channels_masked) == 15
    assert h.extra_channels == ()
    row = DOUBLE_BANANA_NAMES.index("Fp1-F7")
    from_file = harmonize(Recording.from_array(data[:1], fs, ["FP1-F7"]), l_freq_hz=0.5).data_uv[row]
    np.testing.assert_allclose(h.data_uv[row], -from_file, atol=1e-3)  # F7-FP1 negated


def test_chbmit_file_reads_and_harmonizes(write_raw_edf: Callable[..., Path], label_sets: dict) -> None:
    path = write_raw_edf("chb01_03.edf", label_sets["chbmit"], 256.0, n_records=12)
    h = harmonize(read_recording(path))
    assert h.montage == "bipolar" and h.data_uv.shape == (18, 2400) and h.channel_mask.all()
    assert h.source_path == path


# ---------------------------------------------------------------- errors


def _error(rec: Recording, kind: type[InputError], *words: str) -> None:
    with pytest.raises(kind) as caught:
        harmonize(rec)
    text = str(caught.value)
    assert text.startswith(str(rec.path)) and all(w in text for w in words), text


def test_all_nan_channel_is_an_error() -> None:
    data = alpha_recording(path="case.edf").get_data_uv(list(CANONICAL_19))
    data[17] = np.nan
    _error(Recording.from_array(data, 256.0, list(CANONICAL_19), path="case.edf"), NonFiniteSignalError,
           "channel O1 holds no finite samples")  # fmt: skip


def test_all_flat_is_an_error() -> None:
    data = np.full((19, 200 * 20), 3.0)
    _error(Recording.from_array(data, 200.0, list(CANONICAL_19), path="flat.edf"), FlatSignalError, "flat")


def test_no_eeg_is_an_error() -> None:
    data = noise_uv(3, 200.0, 20.0)
    _error(Recording.from_array(data, 200.0, ["ECG", "EOG L", "Resp chest"], path="poly.edf"),
           NoEEGChannelsError, "no EEG channel")  # fmt: skip
    _error(Recording.from_array(data[:2], 200.0, ["Fpz", "Oz"], path="two.edf"),
           NoEEGChannelsError, "none of the 19")  # fmt: skip


def test_64_hz_is_an_error() -> None:
    data = noise_uv(19, 64.0, 30.0)
    _error(Recording.from_array(data, 64.0, list(CANONICAL_19), path="slow.edf"), SamplingRateError, "64 Hz")


def test_under_ten_seconds_is_an_error() -> None:
    data = noise_uv(19, 200.0, 9.5)
    _error(Recording.from_array(data, 200.0, list(CANONICAL_19), path="short.edf"), RecordingTooShortError,
           "9.5 s", "10 s")  # fmt: skip


def test_bad_arguments_are_value_errors() -> None:
    rec = alpha_recording()
    with pytest.raises(ValueError, match="missing"):
        harmonize(rec, missing="zero")
    with pytest.raises(ValueError, match="start_s"):
        harmonize(rec, start_s=40.0)


# ---------------------------------------------------------------- chunks, events, metadata


def test_chunks_join_into_the_whole() -> None:
    rec = alpha_recording(256.0, 60.0)
    whole = harmonize(rec).data_uv
    parts = [harmonize(rec, start_s=s, stop_s=s + 20.0) for s in (0.0, 20.0, 40.0)]
    assert [p.start_s for p in parts] == [0.0, 20.0, 40.0]
    joined = np.concatenate([p.data_uv for p in parts], axis=1)
    assert joined.shape == whole.shape
    assert np.abs(joined - whole).max() < 0.02 * np.abs(whole).max()


def test_events_pass_through_in_recording_seconds() -> None:
    events = [Event(2.0, 1.0, "eyes closed"), Event(25.0, 0.0, "spike")]
    rec = alpha_recording(events=events)
    assert harmonize(rec).events == events
    assert harmonize(rec, start_s=12.0).events == [events[1]]


def test_multirate_edf_uses_the_eeg_rate(multirate_edf: Path) -> None:
    h = harmonize(read_recording(multirate_edf))
    assert h.data_uv.shape == (19, 2000) and h.source_sfreq_hz == 200.0


def test_metadata_is_json_ready() -> None:
    rec = alpha_recording()
    data = rec.get_data_uv(list(CANONICAL_19))[1:]
    h = harmonize(Recording.from_array(data, 256.0, list(CANONICAL_19[1:])))
    meta = json.loads(json.dumps(h.to_dict()))
    assert meta["channels_interpolated"] == ["Fp1"] and meta["n_times"] == 6000
    assert meta["quality"]["bad_channels"][0]["reason"] == "missing"
    assert "data_uv" not in meta


def test_spline_matrix_matches_mne() -> None:
    interpolation = pytest.importorskip("mne.channels.interpolation")
    from neuronarrator.io.channels import positions_m

    sources = tuple(ch for ch in CANONICAL_19 if ch not in ("O1", "C3"))
    ours = spherical_spline_matrix(sources, ("O1", "C3"))
    origin = head_origin_m()
    theirs = interpolation._make_interpolation_matrix(
        positions_m(sources) - origin, positions_m(("O1", "C3")) - origin
    )
    np.testing.assert_allclose(ours, theirs, atol=1e-8)
    np.testing.assert_allclose(ours.sum(axis=1), 1.0, atol=1e-8)
