"""The multitaper spectrogram against MNE's psd_array_multitaper (the independent reference)."""

import numpy as np
import pytest
from mne.time_frequency import psd_array_multitaper

from neuronarrator.signal.multitaper import (
    Spectrogram,
    multitaper_psd,
    multitaper_spectrogram,
    n_windows,
    sliding_windows,
)
from neuronarrator.signal.synthetic import pink_noise_uv

SFREQ_HZ = 200.0


def pink_eeg_uv(n_chans: int, n_times: int, seed: int = 0) -> np.ndarray:
    """1/f background with a 10 Hz rhythm, ~20-50 µV: spectra spanning the dynamic range of real EEG."""
    rng = np.random.default_rng(seed)
    pink = pink_noise_uv(rng, n_chans, n_times, SFREQ_HZ, rms_uv=20.0)
    t_s = np.arange(n_times) / SFREQ_HZ
    alpha = 15.0 * np.sin(2 * np.pi * 10.0 * t_s + rng.uniform(0, 2 * np.pi, (n_chans, 1)))
    return (pink + alpha).astype(np.float32)


@pytest.mark.slow
def test_spectrogram_equals_mne_on_20_minute_19_channel_recording():
    data_uv = pink_eeg_uv(19, int(20 * 60 * SFREQ_HZ))
    spec = multitaper_spectrogram(data_uv, SFREQ_HZ)
    windows = sliding_windows(data_uv.astype(np.float64), SFREQ_HZ, 5.0, 1.0)
    psd_ref, freqs_ref = psd_array_multitaper(
        windows, SFREQ_HZ, fmin=0.0, fmax=32.0, bandwidth=2.0, adaptive=False,
        normalization="full", verbose="error",
    )  # fmt: skip
    np.testing.assert_allclose(spec.freqs_hz, freqs_ref)
    psd_ours = np.expm1(spec.log_psd.astype(np.float64)).transpose(0, 2, 1)  # back to (C, W, F)
    relative = np.abs(psd_ours - psd_ref) / psd_ref
    assert relative.max() < 1e-4, f"max relative error {relative.max():.2e}"
    assert spec.log_psd.shape == (19, 161, 1196)


def test_psd_equals_mne_with_dc_offset_and_odd_length():
    rng = np.random.default_rng(3)
    windows_uv = rng.standard_normal((4, 3, 777)) * 30 + 5000.0  # large DC offset, odd length
    psd, freqs = multitaper_psd(windows_uv, 250.0, fmax_hz=40.0, bandwidth_hz=3.0)
    ref, freqs_ref = psd_array_multitaper(
        windows_uv, 250.0, fmin=0, fmax=40.0, bandwidth=3.0, normalization="full", verbose="error"
    )
    np.testing.assert_allclose(freqs, freqs_ref)
    np.testing.assert_allclose(psd, ref, rtol=1e-4)


def test_sine_power_lands_in_its_bin_with_the_right_density():
    t_s = np.arange(int(60 * SFREQ_HZ)) / SFREQ_HZ
    amplitude_uv = 40.0
    data_uv = (amplitude_uv * np.sin(2 * np.pi * 12.0 * t_s))[None].astype(np.float32)
    spec = multitaper_spectrogram(data_uv, SFREQ_HZ, ["O1"])
    psd = np.expm1(spec.log_psd[0].astype(np.float64))  # (F, W)
    peak_hz = spec.freqs_hz[psd.mean(axis=1).argmax()]
    assert abs(peak_hz - 12.0) < 0.21
    # integrated one-sided PSD = variance of the sine = A²/2
    df_hz = spec.freqs_hz[1] - spec.freqs_hz[0]
    total_uv2 = psd.sum(axis=0).mean() * df_hz
    assert total_uv2 == pytest.approx(amplitude_uv**2 / 2, rel=0.02)


def test_shapes_times_and_names():
    data_uv = pink_eeg_uv(3, int(30 * SFREQ_HZ))
    spec = multitaper_spectrogram(data_uv, SFREQ_HZ, ["Fp1", "Cz", "O2"])
    assert isinstance(spec, Spectrogram)
    assert spec.log_psd.dtype == np.float32
    assert spec.log_psd.shape == (3, 161, n_windows(data_uv.shape[1], SFREQ_HZ)) == (3, 161, 26)
    np.testing.assert_allclose(spec.times_s[:3], [2.5, 3.5, 4.5])
    assert spec.freqs_hz[0] == 0.0 and spec.freqs_hz[-1] == pytest.approx(32.0)
    assert spec.channels == ("Fp1", "Cz", "O2")


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((2, 100), dtype=np.float32), "shorter than one"),
        (np.full((2, 2000), np.nan, dtype=np.float32), "NaN"),
        (np.zeros(2000, dtype=np.float32), "n_chans, n_times"),
    ],
)
def test_rejects_bad_arrays(bad, message):
    with pytest.raises(ValueError, match=message):
        multitaper_spectrogram(bad, SFREQ_HZ)


@pytest.mark.gpu
def test_cuda_spectrogram_equals_cpu():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine")
    data_uv = pink_eeg_uv(19, int(120 * SFREQ_HZ))
    cpu = multitaper_spectrogram(data_uv, SFREQ_HZ)
    gpu = multitaper_spectrogram(data_uv, SFREQ_HZ, device="cuda")
    np.testing.assert_allclose(gpu.log_psd, cpu.log_psd, rtol=1e-4, atol=1e-5)
