"""Quality masks: each defect found where it was planted, nothing found on clean or real EEG."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from neuronarrator.io.channels import CANONICAL_19
from neuronarrator.signal.quality import (
    EXTREME_PTP_UV,
    QualityReport,
    assess_quality,
    bridge_nonfinite,
    detect_line_freq_hz,
)
from neuronarrator.signal.synthetic import pink_noise_uv

FS_HZ = 200.0
CH = CANONICAL_19


def pink_alpha_uv(n_chans: int, sfreq_hz: float, duration_s: float, seed: int = 0) -> np.ndarray:
    """Clean synthetic EEG: 1/f noise (15 µV rms) plus a 10 Hz rhythm (20 µV) of random phase."""
    rng = np.random.default_rng(seed)
    n = int(round(sfreq_hz * duration_s))
    pink = pink_noise_uv(rng, n_chans, n, sfreq_hz, rms_uv=15.0)
    t = np.arange(n) / sfreq_hz
    phases = rng.uniform(0, 2 * np.pi, (n_chans, 1))
    return pink + 20.0 * np.sin(2 * np.pi * 10.0 * t + phases)


@pytest.fixture
def clean_uv() -> np.ndarray:
    return pink_alpha_uv(len(CH), FS_HZ, 60.0)


def flag_of(report: QualityReport, channel: str) -> str | None:
    return next((f.reason for f in report.bad_channels if f.channel == channel), None)


def test_clean_synthetic_eeg_has_no_flags(clean_uv: np.ndarray) -> None:
    report = assess_quality(clean_uv, FS_HZ, CH)
    assert report.bad_channels == []
    assert report.bad_spans == []
    assert report.usable_fraction == 1.0
    assert report.line_freq_hz is None
    assert report.warnings == []


@pytest.mark.parametrize("value_uv", [0.0, 37.5])
def test_flat_channel_is_flagged(clean_uv: np.ndarray, value_uv: float) -> None:
    clean_uv[3] = value_uv + 0.05 * np.random.default_rng(1).standard_normal(clean_uv.shape[1])
    report = assess_quality(clean_uv, FS_HZ, CH)
    assert report.bad_channel_names == ["F3"]
    assert flag_of(report, "F3") == "flat"
    assert report.usable_fraction == pytest.approx(18 / 19)


def test_nan_run_gives_a_span_not_a_bad_channel(clean_uv: np.ndarray) -> None:
    clean_uv[5, int(10.0 * FS_HZ) : int(12.5 * FS_HZ)] = np.nan
    clean_uv[5, int(30.2 * FS_HZ)] = np.inf
    report = assess_quality(clean_uv, FS_HZ, CH)
    assert report.bad_channels == []
    spans = [(s.start_s, s.end_s, s.channels, s.reason) for s in report.bad_spans]
    assert spans == [(10.0, 13.0, ("F4",), "nan"), (30.0, 31.0, ("F4",), "nan")]
    assert report.usable_fraction == pytest.approx(1 - 4 / (19 * 60))


def test_mostly_and_wholly_nonfinite_channels_are_bad(clean_uv: np.ndarray) -> None:
    clean_uv[0, : int(40 * FS_HZ)] = np.nan
    clean_uv[17] = np.nan
    report = assess_quality(clean_uv, FS_HZ, CH)
    flags = {f.channel: f for f in report.bad_channels}
    assert flags["Fp1"].reason == "nan" and "67%" in flags["Fp1"].detail
    assert flags["O1"].reason == "nan" and flags["O1"].detail == "no finite samples"


def test_clipped_channel_is_flagged(clean_uv: np.ndarray) -> None:
    limit = np.percentile(np.abs(clean_uv[10]), 85)  # the ADC saturates on ~15 % of the samples
    clean_uv[10] = np.clip(clean_uv[10], -limit, limit)
    report = assess_quality(clean_uv, FS_HZ, CH)
    assert report.bad_channel_names == ["C4"]
    assert flag_of(report, "C4") == "clipped"


def test_brief_clipping_gives_spans(clean_uv: np.ndarray) -> None:
    burst = slice(int(20 * FS_HZ), int(23 * FS_HZ))
    clean_uv[10, burst] *= 20  # a movement burst that drives the amplifier into its limits
    limit = 0.3 * np.abs(clean_uv[10, burst]).max()
    clean_uv[10] = np.clip(clean_uv[10], -limit, limit)
    report = assess_quality(clean_uv, FS_HZ, CH)
    assert report.bad_channels == []
    clipped = [s for s in report.bad_spans if s.reason == "clipped"]
    assert clipped and all(s.channels == ("C4",) and 20.0 <= s.start_s < s.end_s <= 23.0 for s in clipped)


def test_railed_channel_is_flagged(clean_uv: np.ndarray) -> None:
    clean_uv[12, int(15 * FS_HZ) :] = 3276.7  # pinned at the positive digital limit after 15 s
    report = assess_quality(clean_uv, FS_HZ, CH)
    assert flag_of(report, "P7") == "railed"
    assert report.bad_channel_names == ["P7"]


def test_extreme_amplitude_channel_is_flagged(clean_uv: np.ndarray) -> None:
    clean_uv[7] *= 8
    report = assess_quality(clean_uv, FS_HZ, CH)
    assert report.bad_channel_names == ["T7"]
    assert flag_of(report, "T7") == "extreme_amplitude"


def test_electrode_pop_gives_an_extreme_span(clean_uv: np.ndarray) -> None:
    t = np.arange(int(0.3 * FS_HZ)) / FS_HZ
    clean_uv[14, int(30.2 * FS_HZ) : int(30.2 * FS_HZ) + t.size] += 900 * np.exp(-t / 0.05)
    report = assess_quality(clean_uv, FS_HZ, CH)
    assert report.bad_channels == []
    assert [(s.start_s, s.end_s, s.channels, s.reason) for s in report.bad_spans] == [
        (30.0, 31.0, ("Pz",), "extreme_amplitude")
    ]
    assert EXTREME_PTP_UV < 900


def test_line_noise_dominated_channel_is_flagged(clean_uv: np.ndarray) -> None:
    t = np.arange(clean_uv.shape[1]) / FS_HZ
    clean_uv[18] += 60.0 * np.sin(2 * np.pi * 60.0 * t)
    clean_uv += 0.5 * np.sin(2 * np.pi * 60.0 * t)  # faint pick-up everywhere, as in any room
    report = assess_quality(clean_uv, FS_HZ, CH)
    assert report.line_freq_hz == 60.0
    assert report.bad_channel_names == ["O2"]
    assert flag_of(report, "O2") == "line_noise"


def test_mains_on_every_channel_warns_but_flags_none(clean_uv: np.ndarray) -> None:
    t = np.arange(clean_uv.shape[1]) / FS_HZ
    clean_uv += 40.0 * np.sin(2 * np.pi * 50.0 * t)
    report = assess_quality(clean_uv, FS_HZ, CH)
    assert report.line_freq_hz == 50.0
    assert report.bad_channels == []
    assert any("50 Hz mains" in w for w in report.warnings)


@pytest.mark.parametrize(
    ("line_hz", "sfreq_hz"), [(50.0, 200.0), (60.0, 200.0), (60.0, 256.0), (50.0, 160.0)]
)
def test_detect_line_freq(line_hz: float, sfreq_hz: float) -> None:
    data = pink_alpha_uv(8, sfreq_hz, 20.0, seed=3)
    t = np.arange(data.shape[1]) / sfreq_hz
    data += 3.0 * np.sin(2 * np.pi * line_hz * t)
    assert detect_line_freq_hz(data, sfreq_hz) == line_hz


def test_detect_line_freq_none_when_absent_or_invisible() -> None:
    assert detect_line_freq_hz(pink_alpha_uv(8, 200.0, 20.0), 200.0) is None
    data = pink_alpha_uv(4, 100.0, 20.0)
    t = np.arange(data.shape[1]) / 100.0
    assert detect_line_freq_hz(data + 20 * np.sin(2 * np.pi * 50 * t), 100.0) is None  # at Nyquist


def test_missing_channels_are_listed_but_not_counted(clean_uv: np.ndarray) -> None:
    report = assess_quality(clean_uv[:17], FS_HZ, CH[:17], missing_channels=("O1", "O2"))
    assert [(f.channel, f.reason) for f in report.bad_channels] == [("O1", "missing"), ("O2", "missing")]
    assert report.usable_fraction == 1.0
    assert any("missing" in w for w in report.warnings)


def test_spans_split_where_the_channel_set_changes(clean_uv: np.ndarray) -> None:
    clean_uv[0, int(10 * FS_HZ) : int(14 * FS_HZ)] = np.nan
    clean_uv[1, int(12 * FS_HZ) : int(16 * FS_HZ)] = np.nan
    spans = [(s.start_s, s.end_s, s.channels) for s in assess_quality(clean_uv, FS_HZ, CH).bad_spans]
    assert spans == [(10.0, 12.0, ("Fp1",)), (12.0, 14.0, ("Fp1", "Fp2")), (14.0, 16.0, ("Fp2",))]


def test_spans_are_in_recording_time_and_cover_a_partial_last_window(clean_uv: np.ndarray) -> None:
    data = clean_uv[:, : int(20.5 * FS_HZ)]
    data[2, -10:] = np.nan
    report = assess_quality(data, FS_HZ, CH, start_s=100.0)
    assert [(s.start_s, s.end_s) for s in report.bad_spans] == [(119.5, 120.5)]


def test_bridge_nonfinite_draws_lines() -> None:
    data = np.array([[0.0, np.nan, np.nan, 3.0, np.inf], [np.nan, np.nan, np.nan, np.nan, np.nan]])
    bridged, finite = bridge_nonfinite(data)
    np.testing.assert_allclose(bridged, [[0, 1, 2, 3, 3], [0, 0, 0, 0, 0]])
    assert finite.sum() == 2
    assert np.isnan(data[0, 1])  # the input is untouched


def test_report_is_json_ready(clean_uv: np.ndarray) -> None:
    clean_uv[3] = 0.0
    clean_uv[5, 400:600] = np.nan
    report = assess_quality(clean_uv, FS_HZ, CH, missing_channels=("Oz",))
    text = json.dumps(report.to_dict())
    back = json.loads(text)
    assert back["bad_channels"][0] == {"channel": "Oz", "reason": "missing", "detail": "not in the file"}
    assert back["bad_spans"][0]["reason"] == "nan"
    assert 0 < back["usable_fraction"] < 1


def test_twenty_minutes_of_white_noise_are_clean() -> None:
    # Tests check correctness, never wall-clock time: speed is measured in bench/.
    data = np.random.default_rng(0).standard_normal((19, int(20 * 60 * FS_HZ))) * 20
    report = assess_quality(data, FS_HZ, CH)
    assert report.bad_channels == [] and report.bad_spans == []
    assert report.usable_fraction == 1.0


@pytest.mark.parametrize("run", ["S001R01", "S001R02", "S001R04"])
def test_real_eegmmi_runs_have_no_bad_channels(shared_data: Path, run: str) -> None:
    from neuronarrator.io.read import read_recording

    rec = read_recording(shared_data / "eegmmidb" / f"{run}.edf")
    labels = rec.eeg_labels
    report = assess_quality(rec.get_data_uv([lab.original for lab in labels]), rec.sfreq_hz,
                            [lab.canonical for lab in labels])  # fmt: skip
    assert report.bad_channels == []
    assert report.line_freq_hz == 60.0  # recorded in the United States (BCI2000, Wadsworth Center)
    # the only spans are large eye and electrode artifacts (> 500 µV), a fraction of a percent of the data
    assert report.usable_fraction > 0.98
    assert {s.reason for s in report.bad_spans} <= {"extreme_amplitude"}
