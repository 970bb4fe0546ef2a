"""The streamed report of a recording is the in-memory one, and its memory does not grow with the recording."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from neuronarrator.io.recording import Recording

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def narrator():
    from neuronarrator.narrator.bundled import resolve_model
    from neuronarrator.narrator.pipeline import Narrator

    paths = resolve_model(None)
    return Narrator(paths.stage1, paths.narrator, device="cpu")


def _tiled(path, findings: str, block_s: int, repeats: int, seed: int = 1, flat_from_s: float | None = None):
    """A ``block_s`` phantom repeated ``repeats`` times (19 channels, 200 Hz); with ``flat_from_s``, ten of
    the channels flat from then on (too few good electrodes to interpolate: they are masked)."""
    from neuronarrator.clinical.phantom.files import EDF_LABELS
    from neuronarrator.clinical.phantom.generate import generate
    from neuronarrator.io.edf_tile import write_tiled_edf

    block = generate(findings, seed=seed, duration_s=block_s, sfreq_hz=200).data_uv
    if flat_from_s is None:
        return write_tiled_edf(path, block, 200, EDF_LABELS, repeats)
    data = np.tile(block, (1, repeats))
    data[:10, int(flat_from_s * 200) :] = 0.0
    return write_tiled_edf(path, data, 200, EDF_LABELS, 1)


def _same(a, b, path=""):
    """Paths where two JSON-like documents differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b), key=str) for d in _same(a.get(k), b.get(k), f"{path}/{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _same(x, y, f"{path}[{i}]")]
    return [] if a == b else [path]


def _both(narrator, path, chunk_s):
    from neuronarrator.narrator.pipeline import recording_signal
    from neuronarrator.narrator.stream import stream_document, stream_recording
    from neuronarrator.report.html import report_figures

    signal, info = recording_signal(path, chunk_s=chunk_s)
    memory = narrator.document(signal, info).to_dict()
    memory_figures = report_figures(memory, signal.data_uv, signal.channel_mask, signal.montage)
    streamed = stream_recording(path, narrator, chunk_s=chunk_s)
    document = stream_document(narrator, streamed).to_dict()
    figures = report_figures(document, None, streamed.channel_mask, streamed.montage, streamed=streamed)
    return memory, memory_figures, streamed, document, figures, signal


def test_streamed_report_is_the_in_memory_report(narrator, tmp_path):
    # 5.5 min in 60-s chunks: 33 segments, stage-1 batches (32 + 1) across chunk boundaries, a 30-s tail
    # chunk joined to the one before, a PDR whose frequency is read back from the file
    path = _tiled(tmp_path / "a.edf", "focal_slowing:left:temporal", 30, 11)
    memory, memory_figures, streamed, document, figures, signal = _both(narrator, path, 60.0)
    assert document["provenance"]["harmonization"].pop("streamed") == {"chunk_s": 60.0, "passes": 1}
    assert _same(memory, document) == []
    assert memory["provenance"]["n_segments"] == 33 and memory["provenance"]["harmonization"]["n_chunks"] == 5
    assert {f["code"] for f in document["findings"]} >= {"pdr", "focal_slowing"}
    # the timeline covers the recording in 30-s epochs
    assert [s["start_s"] for s in document["state_timeline"]] == list(np.arange(0.0, 330.0, 30.0))
    # every figure, the EEG pages drawn from seconds read back, is the same image, but for the scalp maps,
    # whose Welch band powers are summed over chunks (float rounding; the colours may shift by one level)
    assert sorted(figures) == sorted(memory_figures) and any(k.startswith("evidence:") for k in figures)
    assert [k for k in figures if figures[k] != memory_figures[k]] in ([], ["topomaps"])
    from neuronarrator.report.figures import TOPOMAP_BANDS
    from neuronarrator.signal.bands import BANDS_HZ, band_powers

    power = band_powers(signal.data_uv.astype(np.float64), 200.0, bands_hz={b: BANDS_HZ[b] for b in TOPOMAP_BANDS})
    np.testing.assert_allclose(streamed.band_power_uv2, power, rtol=1e-9)
    assert 0 < streamed.source.n_harmonized <= 2 * len(figures)
    assert streamed.preds.data_uv is streamed.source  # no samples kept


def test_a_row_masked_late_starts_the_pass_again_with_the_narrower_mask(narrator, tmp_path):
    path = _tiled(tmp_path / "flat.edf", "", 30, 6, flat_from_s=130.0)
    memory, _, streamed, document, _, _ = _both(narrator, path, 60.0)
    assert document["provenance"]["harmonization"].pop("streamed")["passes"] == 2
    assert len(memory["recording"]["channels_used"]) == 9
    assert _same(memory, document) == []


def test_bridge_state_is_carried_not_restarted(narrator, tmp_path):
    """The narrator's prefix of the streamed pass is the whole sequence's (chunks of 20 s: 2 segments)."""
    import torch

    from neuronarrator.narrator.pipeline import recording_signal
    from neuronarrator.narrator.stream import stream_recording
    from neuronarrator.train.narrator_stage import standardise

    path = _tiled(tmp_path / "b.edf", "", 20, 4)
    signal, _ = recording_signal(path, chunk_s=20.0)
    preds, _ = narrator.findings(signal)
    x = standardise(narrator.features(signal, preds), narrator.bundle.mean, narrator.bundle.std)[None]
    with torch.no_grad():
        whole = narrator.bundle.model.prefix(x)
    streamed = stream_recording(path, narrator, chunk_s=20.0, batch_size=2)
    assert len(streamed.preds.presence) == 8
    # the pass pushed 4 pieces of 2 steps; its raw narrative decodes from the same prefix
    text = narrator.bundle.model.lm.generate(whole, max_new_tokens=narrator.bundle.max_new_tokens)[0]
    assert streamed.raw_narrative == text


@pytest.mark.slow
def test_memory_does_not_grow_with_the_recording(narrator, tmp_path, monkeypatch):
    """Peak Python-tracked memory (numpy arrays included) of the streamed pass on 5 and on 15 minutes, in
    60-s chunks, stage-1 batches of 8 segments (segments wait for a whole batch, so memory grows until the
    first is full): the same within a few MB (what grows is per-segment summaries, a few kB each), and no
    read of the file spans more than one chunk with its filter context."""
    from neuronarrator.io.harmonize import PAD_S
    from neuronarrator.narrator.stream import stream_document, stream_recording

    spans = []
    original = Recording.get_data_uv

    def spy(self, originals, start_s=0.0, stop_s=None):
        data = original(self, originals, start_s, stop_s)
        spans.append(data.shape[1] / self.sfreq_hz)
        return data

    monkeypatch.setattr(Recording, "get_data_uv", spy)
    paths = {m: _tiled(tmp_path / f"{m}.edf", "focal_slowing:left:temporal", 60, m) for m in (5, 15)}
    stream_document(narrator, stream_recording(paths[5], narrator, chunk_s=60.0))  # lazy imports out of the way
    peaks = {}
    for minutes, path in paths.items():
        tracemalloc.start()
        try:
            streamed = stream_recording(path, narrator, chunk_s=60.0, batch_size=8)
            stream_document(narrator, streamed)
            peaks[minutes] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    whole_15_min_float32 = 19 * 15 * 60 * 200 * 4
    assert max(spans) <= 60.0 + 2 * PAD_S + 1e-6
    assert peaks[15] < peaks[5] + 4 * 2**20, peaks
    assert peaks[15] - peaks[5] < whole_15_min_float32 / 4


def test_report_command_streams_above_the_threshold(tmp_path):
    """``report_files`` streams a recording longer than ``stream_above_s`` and writes the same JSON and an
    HTML page with the same figures as without streaming (a 40-s file: one chunk either way)."""
    import json

    from neuronarrator.report.batch import report_files

    path = _tiled(tmp_path / "c.edf", "focal_slowing:left:temporal", 20, 2)
    [plain] = report_files([path], tmp_path / "plain", stream_above_s=3600.0)
    [streamed] = report_files([path], tmp_path / "streamed", stream_above_s=10.0)
    assert plain.ok and streamed.ok, (plain.error, streamed.error)
    a, b = (json.loads(r.json_path.read_text()) for r in (plain, streamed))
    assert "streamed" not in a["provenance"]["harmonization"]
    assert b["provenance"]["harmonization"].pop("streamed") == {"chunk_s": 600.0, "passes": 1}
    assert _same(a, b) == []
    assert streamed.html_path.read_text().count("<img") == plain.html_path.read_text().count("<img") > 2


def test_streamed_report_reads_the_ecg_lead_as_in_memory(narrator, tmp_path):
    """A 5-min file with an EKG channel and the heart's field on the left EEG rows, streamed in 60-s chunks:
    the lead's sums carried over chunks give ECG artifact on the same rows and the same heart rate as the
    in-memory report; the recording names the lead."""
    from neuronarrator.clinical.phantom.artifacts import ecg_template
    from neuronarrator.clinical.phantom.files import EDF_LABELS
    from neuronarrator.clinical.phantom.generate import generate
    from neuronarrator.io.channels import CANONICAL_19
    from neuronarrator.io.edf_tile import write_tiled_edf

    block_s = 60  # one block of 70 beats per minute: the beat train continues across the tiles
    eeg = generate([], seed=2, duration_s=block_s, sfreq_hz=200).data_uv.astype(np.float64)
    n = eeg.shape[1]
    template, anchor = ecg_template(200.0)
    train = np.zeros(n + len(template))
    for b in (np.arange(0.5, block_s, 60.0 / 70.0) * 200).astype(int):
        train[b - anchor : b - anchor + len(template)] += template
    train = train[:n]
    field = np.zeros(19)
    field[[CANONICAL_19.index(c) for c in ("F7", "T7", "P7")]] = [14.0, 16.0, 12.0]
    block = np.vstack([eeg + field[:, None] * train, 1000.0 * train])
    path = write_tiled_edf(tmp_path / "ecg.edf", block, 200, [*EDF_LABELS, "EKG"], 5)
    memory, _, streamed, document, _, _ = _both(narrator, path, 60.0)
    assert streamed.cardiac is not None and streamed.cardiac.present
    mine, theirs = ({f["code"]: f for f in d["findings"]}.get("ecg_artifact") for d in (memory, document))
    assert mine is not None and theirs is not None and mine["channels"] == theirs["channels"]
    assert {"F7", "T7", "P7"} & set(theirs["channels"])
    assert document["recording"]["ecg_channel"] == memory["recording"]["ecg_channel"] == "EKG"
    assert streamed.cardiac.heart_rate_bpm == pytest.approx(70, abs=1)
