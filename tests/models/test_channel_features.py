"""Per-channel spectral and transient summaries: each value measures what its name says."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuronarrator.models.channel_features import (
    BANDS_HZ,
    HOMOLOGOUS_DERIVATIONS,
    HOMOLOGOUS_ELECTRODES,
    N_ASYM_BANDS,
    N_CHANNEL_FEATURES,
    N_COMMON,
    N_PAIRS,
    ChannelFeatureEncoder,
    channel_features,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")
T = np.arange(2000) / 200.0
NB = len(BANDS_HZ)


def _batch(*rows: np.ndarray) -> torch.Tensor:
    x = np.zeros((1, 19, 2000), np.float32)
    for i, r in enumerate(rows):
        x[0, i] = r
    return torch.from_numpy(x)


def test_band_powers_gain_and_masking() -> None:
    rng = np.random.default_rng(0)
    alpha = 30 * np.sin(2 * np.pi * 10 * T) + rng.normal(0, 1, 2000)
    emg = 5 * rng.normal(0, 1, 2000)  # white: most of its power lies above 30 Hz
    x = _batch(alpha, emg, alpha)
    mask = torch.ones(1, 19, dtype=torch.bool)
    mask[0, 3:] = False
    feats, common = channel_features(x, mask)
    assert feats.shape == (1, 19, N_CHANNEL_FEATURES) and common.shape == (1, N_COMMON)
    assert int(feats[0, 0, :NB].argmax()) == 2  # alpha band
    assert int(feats[0, 1, :NB].argmax()) == NB - 1  # 45-70 Hz
    assert torch.all(feats[0, 3:] == 0)  # masked rows
    # µV² of a 30 µV sine: 450; the band's log10 power says so
    assert float(feats[0, 0, 2]) == pytest.approx(np.log10(450), abs=0.1)
    doubled, _ = channel_features(x * 2, mask)
    np.testing.assert_allclose(doubled[0, 0, :NB] - feats[0, 0, :NB], np.log10(4), atol=0.02)  # gain: +log10 4
    np.testing.assert_allclose(doubled[0, 0, NB : 2 * NB], feats[0, 0, NB : 2 * NB], atol=0.02)  # relative: same


def test_spikes_and_periodicity() -> None:
    rng = np.random.default_rng(1)
    background = np.convolve(rng.normal(0, 1, 2009), np.hanning(10), mode="valid")  # smooth, as EEG is
    background *= 10 / background.std()
    spiky = background.copy()
    spiky[1000:1010] += np.hanning(10) * 150  # one 50-ms spike
    periodic = background.copy()
    for beat in range(0, 2000, 180):  # a sharp wave every 0.9 s, on every channel: the ECG pattern
        periodic[beat : beat + 8] += np.hanning(8) * 100
    mask = torch.ones(1, 19, dtype=torch.bool)
    f_bg, c_bg = channel_features(_batch(*[background] * 19), mask)
    f_sp, _ = channel_features(_batch(spiky, *[background] * 18), mask)
    f_pe, c_pe = channel_features(_batch(*[periodic] * 19), mask)
    spikiness, periodicity = 2 * NB + 1, 2 * NB + 3
    assert f_sp[0, 0, spikiness] > f_bg[0, 0, spikiness] + 0.3
    # relative to the other channels: only the spiky channel stands out, and the segment says so
    relative = 2 * NB + 4
    assert f_sp[0, 0, relative] > 0.3 and abs(float(f_sp[0, 1:, relative].median())) < 0.05
    _, c_sp = channel_features(_batch(spiky, *[background] * 18), mask)
    assert c_sp[0, 1] == pytest.approx(float(f_sp[0, 0, relative]), abs=1e-5) and c_bg[0, 1] < 0.2
    assert f_pe[0, 0, periodicity] > 0.5 > f_bg[0, 0, periodicity]
    assert c_pe[0, 0] > 0.5 > c_bg[0, 0]  # common-mode periodicity (the ECG's value)


def test_encoder_shapes_and_masked_rows_are_zero() -> None:
    torch.manual_seed(0)
    enc = ChannelFeatureEncoder(hidden=8, d_out=12)
    x = torch.randn(3, 19, 2000) * 20
    mask = torch.ones(3, 19, dtype=torch.bool)
    mask[1, 5] = False
    per_channel, common = enc.embed_channels(x, mask, torch.tensor([False, True, False]))
    assert per_channel.shape == (3, 19, 8) and torch.all(per_channel[1, 5] == 0)
    assert enc.pool(per_channel, common).shape == (3, 12)
    # bipolar rows get other channel embeddings than electrodes
    same = enc.embed_channels(x[:1].expand(2, -1, -1), mask[:1].expand(2, -1), torch.tensor([False, True]))[0]
    assert not torch.allclose(same[0], same[1])


def _smooth_noise(seed: int, rms: float = 10.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.convolve(rng.normal(0, 1, 2019), np.hanning(20), mode="valid")
    return x * rms / x.std()


def test_delta_rhythmicity_and_prominence() -> None:
    """Rhythmic 2 Hz delta repeats itself and peaks in the spectrum; polymorphic (broadband 0.5-4 Hz) delta
    of the same power does neither."""
    rng = np.random.default_rng(2)
    rhythmic = 40 * np.sin(2 * np.pi * 2.0 * T) + _smooth_noise(3)
    spectrum = np.fft.rfft(rng.normal(0, 1, 2000))
    freqs = np.fft.rfftfreq(2000, 1 / 200)
    polymorphic = np.fft.irfft(spectrum * ((freqs > 0.5) & (freqs < 4.0)), n=2000)
    polymorphic = polymorphic * (40 / np.sqrt(2)) / polymorphic.std() + _smooth_noise(3)
    mask = torch.ones(1, 19, dtype=torch.bool)
    feats, _ = channel_features(_batch(rhythmic, polymorphic), mask)
    rhythm, prominence = 2 * NB + 6, 2 * NB + 7
    assert feats[0, 0, rhythm] > 0.8 and feats[0, 1, rhythm] < feats[0, 0, rhythm] - 0.3
    assert feats[0, 0, prominence] > feats[0, 1, prominence] + 0.3


def test_step_persistence_tells_a_pop_from_a_spike() -> None:
    """An electrode pop (a step decaying over 0.3 s) keeps its level after the jump; a spike returns."""
    background = _smooth_noise(4)
    pop, spike = background.copy(), background.copy()
    pop[1000:] += 120 * np.exp(-np.arange(1000) / (0.3 * 200))
    spike[995:1011] += 150 * np.hanning(16)
    feats, _ = channel_features(_batch(pop, spike), torch.ones(1, 19, dtype=torch.bool))
    near, far = 2 * NB + 8, 2 * NB + 9
    # the pop's level 25-200 ms on is ~0.75 of its jump (exp(-t / 0.3 s) averaged); the spike's largest jump is
    # on its rising edge, and 200-500 ms on it is back at the background (up to the background noise)
    assert feats[0, 0, near] > 0.6 and feats[0, 0, near] > feats[0, 1, near] + 0.2
    assert feats[0, 0, far] > 0.2 and feats[0, 0, far] > feats[0, 1, far] + 0.1


def test_hemispheric_asymmetry_per_montage() -> None:
    """Delta added over the left temporal chain shows as left-minus-right delta power in that pair only, in
    the referential pairs (T7/T8) and in the double banana's (F7-T7 against F8-T8); a masked partner gives 0."""
    rows = [_smooth_noise(10 + i) for i in range(19)]
    delta = 60 * np.sin(2 * np.pi * 1.5 * T)
    ref = [r.copy() for r in rows]
    ref[7] = ref[7] + delta  # T7
    bip = [r.copy() for r in rows]
    bip[1] = bip[1] + delta  # F7-T7
    x = torch.cat([_batch(*ref), _batch(*bip)])
    mask = torch.ones(2, 19, dtype=torch.bool)
    _, common = channel_features(x, mask, bipolar=torch.tensor([False, True]))
    pairs = common[:, 2 : 2 + N_PAIRS * N_ASYM_BANDS].reshape(2, N_PAIRS, N_ASYM_BANDS)
    t7_pair, f7t7_pair = HOMOLOGOUS_ELECTRODES.index((7, 11)), HOMOLOGOUS_DERIVATIONS.index((1, 13))
    assert pairs[0, t7_pair, 0] > 1.0 and pairs[1, f7t7_pair, 0] > 1.0  # delta: > 10x on the left
    others = [p for p in range(N_PAIRS) if p != t7_pair]
    assert float(pairs[0, others, 0].abs().max()) < 0.5
    summary = common[:, 2 + N_PAIRS * N_ASYM_BANDS :].reshape(2, 3, N_ASYM_BANDS)
    assert summary[0, 0, 0] == pytest.approx(float(pairs[0, t7_pair, 0]), abs=1e-5)  # largest |difference|
    mask[0, 11] = False  # T8 missing: no comparison for that pair
    _, masked = channel_features(x[:1], mask[:1])
    assert float(masked[0, 2 + t7_pair * N_ASYM_BANDS]) == 0.0


def _band_noise(seed: int, lo_hz: float, hi_hz: float, rms: float) -> np.ndarray:
    spectrum = np.fft.rfft(np.random.default_rng(seed).normal(0, 1, 2000))
    freqs = np.fft.rfftfreq(2000, 1 / 200)
    x = np.fft.irfft(spectrum * ((freqs >= lo_hz) & (freqs < hi_hz)), n=2000)
    return x * rms / x.std()


def _pop_among_muscle(seed: int) -> torch.Tensor:
    """19 rows of 1/f-like background (10 µV) + 3 µV white sensor noise, 20 µV RMS 20-90 Hz muscle bursts on
    three rows (2, 7, 11), a 60-µV electrode pop on row 4, all through the 70-Hz acquisition low-pass."""
    rng = np.random.default_rng(seed)
    rows = [_smooth_noise(10 + i + 20 * seed, rms=10.0) + rng.normal(0, 3.0, 2000) for i in range(19)]
    for i in (2, 7, 11):
        rows[i][600:1400] += _band_noise(i + 7 * seed, 20.0, 90.0, 20.0)[600:1400]
    rows[4][1000:] += 60 * np.exp(-np.arange(1000) / (0.2 * 200))
    freqs = np.fft.rfftfreq(2000, 1 / 200)
    response = 1 / np.sqrt(1 + (freqs / 70) ** 4)
    return _batch(*[np.fft.irfft(np.fft.rfft(r) * response, n=2000) for r in rows])


def test_sharpness_below_30hz_finds_pops_that_muscle_hides() -> None:
    """Over 8 draws of :func:`_pop_among_muscle`, the one-sample relative spikiness never ranks the pop's row
    first (a muscle row wins), the relative sharpness below 30 Hz does in several and by a wider margin on
    average. Without ``sharp_15ms`` the features are exactly as before."""
    mask = torch.ones(1, 19, dtype=torch.bool)
    others = [i for i in range(19) if i != 4]
    spiky_first = sharp_first = 0
    spiky_margin, sharp_margin = [], []
    for seed in range(8):
        x = _pop_among_muscle(seed)
        plain, common = channel_features(x, mask)
        feats, common_sharp = channel_features(x, mask, sharp_15ms=True)
        assert plain.shape[-1] == N_CHANNEL_FEATURES and feats.shape[-1] == N_CHANNEL_FEATURES + 2
        assert torch.equal(feats[..., :N_CHANNEL_FEATURES], plain) and torch.equal(common, common_sharp)
        spiky, sharp = plain[0, :, 2 * NB + 4], feats[0, :, -1]
        spiky_first += int(spiky.argmax()) == 4
        sharp_first += int(sharp.argmax()) == 4
        spiky_margin.append(float(spiky[4] - spiky[others].max()))
        sharp_margin.append(float(sharp[4] - sharp[others].max()))
    assert spiky_first == 0 and sharp_first >= 3
    assert np.mean(sharp_margin) > np.mean(spiky_margin) + 0.1
    enc = ChannelFeatureEncoder(hidden=8, d_out=12, sharp_15ms=True)
    assert enc.embed_channels(x, mask, torch.tensor([False]))[0].shape == (1, 19, 8)
