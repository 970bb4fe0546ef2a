"""Whole-session spectrograms: chunked harmonization gives the same windows as one pass."""

from __future__ import annotations

import numpy as np
import pytest

from neuronarrator.io.channels import CANONICAL_19
from neuronarrator.io.recording import Recording
from neuronarrator.session import chunk_spans_s, session_spectrogram


@pytest.mark.parametrize(
    "duration_s, chunk_s, expected",
    [
        (300.0, 600.0, [(0.0, None)]),
        (1200.0, 600.0, [(0.0, 600.0), (600.0, None)]),
        (1230.0, 600.0, [(0.0, 600.0), (600.0, None)]),  # a 30 s remainder joins the chunk before
        (1300.0, 600.0, [(0.0, 600.0), (600.0, 1200.0), (1200.0, None)]),
    ],
)
def test_chunk_spans(duration_s, chunk_s, expected):
    assert chunk_spans_s(duration_s, chunk_s) == expected


def test_chunked_spectrogram_matches_one_pass(make_eeg_uv):
    data_uv = make_eeg_uv(19, 250.0, 300.0)
    recording = Recording.from_array(data_uv, 250.0, list(CANONICAL_19))
    whole = session_spectrogram(recording, chunk_s=600.0)
    chunked = session_spectrogram(recording, chunk_s=60.0)
    assert whole.harmonization["n_chunks"] == 1 and chunked.harmonization["n_chunks"] == 5
    a, b = whole.spectrogram, chunked.spectrogram
    assert a.log_psd.shape == b.log_psd.shape == (19, 161, 296)
    np.testing.assert_allclose(a.times_s, b.times_s)
    difference = np.abs(a.log_psd - b.log_psd)
    # filters see 5 s of context either side of each chunk, so joins are nearly seamless
    assert np.median(difference) < 1e-3
    assert np.quantile(difference, 0.99) < 0.05
