"""Per-channel spectral and transient summaries: each value measures what its name says."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuronarrator.models.channel_features import (
    BANDS_HZ,
    N_CHANNEL_FEATURES,
    N_COMMON,
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
