"""The report's figures: PNG bytes of a bounded size from referential and bipolar sessions, masked rows,
evidence shading where the span's channels are, no figure left open."""

from __future__ import annotations

import io

import numpy as np
import pytest

from neuronarrator.io.channels import CANONICAL_19, DOUBLE_BANANA_NAMES, bipolar_matrix
from neuronarrator.report.figures import eeg_page_png, spectrogram_png, topomaps_png

pytestmark = pytest.mark.usefixtures("one_torch_thread")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_BYTES = 150_000
SFREQ_HZ = 200.0
HIGHLIGHT_RGB = np.array([0xFD, 0xAE, 0x6B])


def _session(seconds: float = 60.0, seed: int = 0) -> np.ndarray:
    """(19, n) float32 µV: 10 Hz alpha, noise, and 1.5 Hz delta at T7 from 12 to 22 s."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SFREQ_HZ)) / SFREQ_HZ
    data = 20 * np.sin(2 * np.pi * 10 * t + rng.uniform(0, 2 * np.pi, (19, 1))) + 8 * rng.standard_normal(
        (19, t.size)
    )
    slow = (t >= 12) & (t < 22)
    data[CANONICAL_19.index("T7"), slow] += 80 * np.sin(2 * np.pi * 1.5 * t[slow])
    return data.astype(np.float32)


@pytest.fixture(scope="module")
def session() -> tuple[np.ndarray, np.ndarray]:
    mask = np.ones(19, bool)
    mask[CANONICAL_19.index("F3")] = False
    data = _session()
    data[CANONICAL_19.index("F3")] = 0.0
    return data, mask


@pytest.fixture(autouse=True)
def no_open_figures():
    import matplotlib.pyplot as plt

    yield
    assert plt.get_fignums() == [], "a figure was left open"


def _check_png(png: bytes) -> None:
    assert isinstance(png, bytes)
    assert png[:8] == PNG_SIGNATURE
    assert 3_000 < len(png) < MAX_BYTES, len(png)


def _rgb(png: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB")).astype(int)


def _highlight_rows(png: bytes) -> np.ndarray:
    """Image rows (pixel y) holding the shading colour (blended at alpha 0.5 on white, or not)."""
    rgb = _rgb(png)
    blended = (HIGHLIGHT_RGB + 255) / 2
    near = (np.abs(rgb - HIGHLIGHT_RGB).max(-1) < 24) | (np.abs(rgb - blended).max(-1) < 24)
    return np.flatnonzero(near.any(axis=1))


def test_eeg_page_png_referential_with_masked_rows(session):
    data, mask = session
    png = eeg_page_png(data, mask, "referential", 10.0, 20.0, [(12.0, 18.0, ["T7"])], "Focal slowing, left")
    _check_png(png)
    rgb = _rgb(png)
    assert rgb.shape[1] >= 800  # a readable page


def test_eeg_page_png_bipolar(session):
    data, _ = session
    bipolar = (bipolar_matrix() @ data.astype(np.float64)).astype(np.float32)
    bipolar = np.concatenate([bipolar, np.full((1, data.shape[1]), np.nan, np.float32)])  # row 18 unused
    mask = np.ones(19, bool)
    mask[18] = False
    mask[DOUBLE_BANANA_NAMES.index("P7-O1")] = False
    _check_png(eeg_page_png(bipolar, mask, "bipolar", 0.0, 10.0, [(2.0, 4.0, [])], "Whole-head span"))


def test_evidence_is_shaded_over_the_named_channels_only(session):
    data, mask = session
    plain = eeg_page_png(data, mask, "referential", 10.0, 20.0, [], "")
    assert _highlight_rows(plain).size == 0
    outside = eeg_page_png(data, mask, "referential", 10.0, 20.0, [(30.0, 35.0, ["T7"])], "")
    assert _highlight_rows(outside).size == 0
    # T7 is in F7-T7 and T7-P7 (rows 2-3 of 18, the first chain); O1 in P7-O1 and P3-O1 (rows 4 and 8).
    t7 = _highlight_rows(eeg_page_png(data, mask, "referential", 10.0, 20.0, [(12.0, 18.0, ["T7"])], ""))
    o1 = _highlight_rows(eeg_page_png(data, mask, "referential", 10.0, 20.0, [(12.0, 18.0, ["O1"])], ""))
    every = _highlight_rows(eeg_page_png(data, mask, "referential", 10.0, 20.0, [(12.0, 18.0, [])], ""))
    assert t7.size and o1.size
    assert t7.max() < o1.max()  # the T7 shading sits higher on the page
    assert every.size > 4 * t7.size  # no channels named: every derivation


def test_eeg_page_png_clips_to_the_recording_and_keeps_dollars_literal(session):
    data, mask = session
    _check_png(eeg_page_png(data, mask, "referential", 55.0, 65.0, [(50.0, 70.0, ["Cz"])], "costs $5 and $6"))
    _check_png(eeg_page_png(data[:, :600], mask, "referential", 0.0, 10.0, [], "3-s recording"))


def test_spectrogram_png_with_state_and_findings_timelines(session):
    data, mask = session
    timeline = [
        {"start_s": 0.0, "end_s": 30.0, "state": "awake"},
        {"start_s": 30.0, "end_s": 60.0, "state": "n2"},
    ]
    spans = {"focal_slowing": [(12.0, 22.0)], "sleep_spindles": [(35.0, 37.0), (48.0, 50.0)]}
    _check_png(spectrogram_png(data, mask, "referential", timeline, spans))
    _check_png(spectrogram_png(data, mask, "bipolar"))  # rows 0-17 as derivations; no timelines


def test_spectrogram_png_without_data_still_draws(session):
    data, mask = session
    _check_png(
        spectrogram_png(data, np.zeros(19, bool), "referential", [{"start_s": 0, "end_s": 60, "state": "x"}])
    )
    _check_png(spectrogram_png(data[:, :400], mask, "referential"))  # 2 s: under one 5-s window


def test_topomaps_png_referential_only(session):
    data, mask = session
    _check_png(topomaps_png(data, mask))
    assert topomaps_png(data, mask, "bipolar") is None
    assert topomaps_png(data, np.zeros(19, bool)) is None
