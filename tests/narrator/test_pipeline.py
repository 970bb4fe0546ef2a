"""The NeuroNarrator inference pipeline: segment predictions, session findings with evidence, and the
report document end to end on a phantom EDF, with tiny stage-1 and narrator checkpoints trained here."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from neuronarrator.clinical.findings import CODES, REGIONS, SIDES, STATES, Findings
from neuronarrator.io.channels import CANONICAL_19
from neuronarrator.io.errors import InputError, RecordingTooShortError

pytestmark = pytest.mark.usefixtures("one_torch_thread")
N_CODES = len(CODES)


@pytest.fixture(scope="module")
def checkpoints(tiny_narrator):
    return tiny_narrator


def _signal(seconds: float, seed: int = 0, montage: str = "referential"):
    from neuronarrator.eval.signals import SessionSignal

    rng = np.random.default_rng(seed)
    data = (20 * rng.standard_normal((19, int(seconds * 200)))).astype(np.float32)
    mask = np.ones(19, bool)
    mask[3] = False
    data[3] = 0.0
    return SessionSignal(data, mask, montage, f"synthetic-{seed}")


def test_segment_predictions_shapes_and_ranges(checkpoints):
    from neuronarrator.narrator import segment_predictions
    from neuronarrator.train.stage1_stage import load_stage1

    model, calibration = load_stage1(checkpoints["stage1"])
    preds = segment_predictions(model, calibration, _signal(35.0), batch_size=2, explain_min_prob=0.0)
    n = 3  # the 5-s tail is left out
    assert preds.presence.shape == (n, N_CODES) and preds.side.shape == (n, N_CODES, len(SIDES))
    assert preds.regions.shape == (n, N_CODES, len(REGIONS)) and preds.relevance.shape == (n, N_CODES, 19)
    assert ((preds.presence >= 0) & (preds.presence <= 1)).all()
    assert ((preds.regions >= 0) & (preds.regions <= 1)).all()
    np.testing.assert_allclose(preds.side.sum(-1), 1.0, atol=1e-5)
    assert np.isfinite(preds.relevance).all() and (preds.relevance[:, :, 3] == 0).all()  # masked row
    assert np.abs(preds.relevance).sum() > 0 and preds.explained.all()
    np.testing.assert_allclose(preds.starts_s, [0.0, 10.0, 20.0])
    # the same segments in batches of 32: the same probabilities (no cross-segment leakage)
    again = segment_predictions(model, calibration, _signal(35.0), explain_min_prob=0.0)
    np.testing.assert_allclose(again.presence, preds.presence, atol=1e-5)

    bipolar = segment_predictions(model, calibration, _signal(20.0, montage="bipolar"))
    assert bipolar.presence.shape == (2, N_CODES) and bipolar.channels[0] == "Fp1-F7"


def _model_batch(signal) -> dict:
    """A Stage1Model batch of a referential signal's whole 10-s segments."""
    import torch

    from neuronarrator.corpus.store import segment_topomaps
    from neuronarrator.narrator.pipeline import _segments

    segments = _segments(signal)
    n = len(segments)
    return {"waveform": torch.from_numpy(segments), "channel_mask": torch.from_numpy(signal.channel_mask).expand(n, -1),
            "topomap": torch.from_numpy(segment_topomaps(segments.astype(np.float64), signal.channel_mask)),
            "montage": ["referential"] * n}  # fmt: skip


def test_relevance_decomposes_the_models_own_logits(checkpoints):
    """The tokens → heads path the relevance differentiates gives the model's presence logits."""
    import torch

    from neuronarrator.narrator.pipeline import _context, _presence_from_tokens
    from neuronarrator.train.stage1_stage import load_stage1

    model, _ = load_stage1(checkpoints["stage1"])
    signal = _signal(20.0, seed=2)
    batch = _model_batch(signal)
    with torch.no_grad():
        out = model(batch)
        again = _presence_from_tokens(model, out["tokens"].float(), _context(out))
    torch.testing.assert_close(again, out["presence"].float(), atol=1e-4, rtol=1e-4)


def _random_stage1(seed: int = 0):
    import torch

    from neuronarrator.models.stage1 import Stage1Config, Stage1Model

    torch.manual_seed(seed)
    return Stage1Model(Stage1Config.tiny()).eval()


def test_relevance_through_the_pooled_embedding_equals_grad_x_input_on_the_tokens():
    """The relevance segment_predictions computes (one backward through the heads, contracted with the
    per-row token sums) agrees with the direct gradient × input on the tokens, on a tiny random model."""
    import torch

    from neuronarrator.narrator.pipeline import _context, _token_relevance, _token_relevance_direct

    model = _random_stage1()
    signal = _signal(30.0, seed=4)
    batch = _model_batch(signal)
    with torch.no_grad():
        out = model(batch)
    codes = [0, 2, 5, N_CODES - 1]
    direct = _token_relevance_direct(model, out["tokens"], _context(out), codes)
    fast = _token_relevance(model, out["tokens"], _context(out), codes)
    assert np.abs(direct).max() > 0 and (fast[:, 3] == 0).all() and (direct[:, 3] == 0).all()
    np.testing.assert_allclose(fast, direct, rtol=1e-4, atol=1e-6 * np.abs(direct).max())
    assert (fast[:, [j for j in range(N_CODES) if j not in codes]] == 0).all()
    assert np.array_equal(np.argsort(-fast, axis=-1), np.argsort(-direct, axis=-1))  # the same top channels
    assert (_token_relevance(model, out["tokens"], _context(out), []) == 0).all()


def test_narrator_features_reuse_stage1_embeddings_and_band_powers():
    """With the narrator's encoder a copy of stage 1's, the features from segment_predictions' embeddings
    and band powers are those the encoder and the band powers give; other weights are not shared."""
    import copy

    import torch

    from neuronarrator.models.calibration import Calibration
    from neuronarrator.narrator import segment_predictions
    from neuronarrator.narrator.pipeline import shares_encoder, torch_threads
    from neuronarrator.train.narrator_stage import session_features

    model = _random_stage1()
    encoder = copy.deepcopy(model.waveform_encoder).requires_grad_(False)
    assert shares_encoder(model, encoder) and not shares_encoder(model, None)
    signal = _signal(40.0, seed=5)
    preds = segment_predictions(model, Calibration.identity(N_CODES), signal, batch_size=3)
    assert preds.embedding.shape == (4, model.config.waveform.d_model) and preds.band_power.shape == (4, 19, 5)
    reused = session_features(signal, embeddings=preds.embedding, band_power=preds.band_power)
    np.testing.assert_allclose(reused, session_features(signal, encoder), rtol=1e-5, atol=1e-6)
    other = _random_stage1(seed=1).waveform_encoder
    assert not shares_encoder(model, other)
    threads = torch.get_num_threads()
    with torch_threads(threads + 1):
        assert torch.get_num_threads() == threads + 1
    assert torch.get_num_threads() == threads


def _hand_built(n_seg: int = 6):
    from neuronarrator.narrator.evidence import SegmentPredictions

    presence = np.full((n_seg, N_CODES), 0.05)
    j = list(CODES).index("focal_epileptiform")
    presence[4, j] = 0.9  # one segment only: 40-50 s
    side = np.full((n_seg, N_CODES, len(SIDES)), 1.0 / len(SIDES))
    side[4, j] = [0.05, 0.8, 0.05, 0.05, 0.05]  # right
    regions = np.zeros((n_seg, N_CODES, len(REGIONS)))
    regions[4, j, REGIONS.index("temporal")] = 0.9
    relevance = np.zeros((n_seg, N_CODES, 19))
    relevance[4, j, CANONICAL_19.index("T8")] = 2.0
    relevance[4, j, CANONICAL_19.index("P8")] = 1.0
    relevance[4, j, CANONICAL_19.index("O1")] = -3.0  # against: never evidence
    return SegmentPredictions(presence, side, regions, relevance, CANONICAL_19, np.ones(19, bool),
                              np.arange(n_seg) * 10.0), j  # fmt: skip


def test_one_segment_finding_is_a_session_finding_with_its_evidence():
    from neuronarrator.narrator import aggregate_presence, session_findings

    preds, j = _hand_built()
    assert aggregate_presence(preds.presence)[j] == pytest.approx(0.9)
    found = session_findings(preds, threshold=0.5)
    assert isinstance(found, Findings) and found.codes == {"focal_epileptiform"}
    f = found.get("focal_epileptiform")
    assert f.probability == pytest.approx(0.9) and f.side == "right" and f.regions == ("temporal",)
    assert len(f.evidence) == 1
    ev = f.evidence[0]
    assert (ev.start_s, ev.end_s) == (40.0, 50.0) and ev.channels == ("T8", "P8")
    assert (
        found.impression == "abnormal" and found.state == "awake" and found.extras["state_predicted"] is False
    )


def test_evidence_channels_of_a_located_finding_lie_over_its_side_and_regions():
    from neuronarrator.narrator import session_findings
    from neuronarrator.narrator.evidence import located_electrodes

    assert located_electrodes("right", ("temporal",)) == {"F8", "T8", "P8"}
    assert located_electrodes("bilateral", ("temporal",)) == frozenset()
    preds, j = _hand_built()
    preds.relevance[4, j] = 0.0
    preds.relevance[4, j, CANONICAL_19.index("O1")] = 5.0  # most relevant, but on the other side
    preds.relevance[4, j, CANONICAL_19.index("P8")] = 0.5
    assert session_findings(preds).get("focal_epileptiform").evidence[0].channels == ("P8",)
    preds.relevance[4, j, CANONICAL_19.index("P8")] = -1.0  # none positive there: relevance only orders them
    assert session_findings(preds).get("focal_epileptiform").evidence[0].channels == ("F8", "T8", "P8")
    preds.channel_mask[[CANONICAL_19.index(c) for c in ("F8", "T8", "P8")]] = False  # none there: whole head
    assert session_findings(preds).get("focal_epileptiform").evidence[0].channels == ("O1",)
    # a PDR is named where a PDR is (posterior), however the relevance scatters
    k = list(CODES).index("pdr")
    preds.presence[:, k] = 0.9
    preds.relevance[:, k] = 0.0
    preds.relevance[:, k, CANONICAL_19.index("F3")] = 3.0
    preds.relevance[:, k, CANONICAL_19.index("O2")] = 1.0
    preds.data_uv = 30 * np.sin(2 * np.pi * 10.0 * np.arange(12000) / 200.0) * np.ones((19, 1))
    preds.data_uv = preds.data_uv + np.random.default_rng(0).normal(0, 3, preds.data_uv.shape)
    pdr = session_findings(preds).get("pdr")
    assert pdr is not None and pdr.evidence[0].channels[0] == "O2" and "F3" not in pdr.channels


def test_session_calibration_and_the_state_head_reach_the_findings():
    from neuronarrator.models.calibration import Calibration
    from neuronarrator.narrator import session_findings

    preds, j = _hand_built()
    n = len(CODES)
    cal = Calibration("platt", [1.0] * n, [True] * n, [None] * n, list(CODES), [1] * n, [1] * n, [0.0] * n)
    preds.session_calibration = cal
    assert session_findings(preds).get("focal_epileptiform").probability == pytest.approx(0.9)  # identity
    cal.bias[j] = -3.0  # the val sessions say a max of 0.9 is seen without the finding: logit 2.2 - 3 < 0
    assert session_findings(preds).codes == set()
    cal.bias[j] = 0.0
    state = np.zeros((6, len(STATES)))
    state[:, STATES.index("n2")] = 0.7
    state[:, STATES.index("awake")] = 0.3
    state[0] = 0.0
    state[0, STATES.index("awake")] = 1.0
    preds.state = state
    found = session_findings(preds)
    assert found.state == "n2" and found.extras["state_predicted"] is True
    assert found.extras["state_timeline"] == ["awake"] + ["n2"] * 5
    assert found.extras["state_probability"] == pytest.approx(0.7 * 5 / 6, abs=1e-4)  # rounded to 4 places
    # the 30-s epochs: segments 0-2 average awake (1 + 0.3 + 0.3) / 3 = 0.53 against n2 0.47 -> awake
    assert [(e.start_s, e.end_s, e.state) for e in found.state_timeline] == [(0.0, 30.0, "awake"),
                                                                              (30.0, 60.0, "n2")]  # fmt: skip
    state[0] = state[1]
    assert [e.state for e in session_findings(preds).state_timeline] == ["n2", "n2"]


def test_sparse_montage_leaves_spatial_findings_unassessed():
    """Three rows (a polysomnogram): a lateralized or generalized finding is not listed but named as not
    assessable, and the report document warns; a finding that needs no map (an artifact) is still listed."""
    from neuronarrator.narrator import session_findings
    from neuronarrator.narrator.document import ReportDocument

    preds, j = _hand_built()
    k = list(CODES).index("muscle_artifact")
    preds.presence[2, k] = 0.95
    assert session_findings(preds).codes == {"focal_epileptiform", "muscle_artifact"}
    preds.channel_mask = np.zeros(19, bool)
    preds.channel_mask[[7, 11, 16]] = True
    found = session_findings(preds)
    assert found.codes == {"muscle_artifact"} and "focal_epileptiform" in found.extras["not_assessable"]
    doc = ReportDocument(found, "", "", [], {}, quality={"warnings": []}).to_dict()
    assert "focal_epileptiform" in doc["quality"]["not_assessable"]
    assert any("limited montage" in w for w in doc["quality"]["warnings"])


def test_contiguous_evidence_merges_and_normal_codes_keep_impression_normal():
    from neuronarrator.narrator import session_findings
    from neuronarrator.narrator.evidence import evidence_spans

    spans = evidence_spans(np.array([0.1, 0.7, 0.8, 0.2, 0.6, 0.9]), np.arange(6) * 10.0, 0.5, max_evidence=3)
    assert [(a, b, s) for a, b, s in spans] == [(10.0, 30.0, [1, 2]), (50.0, 60.0, [5])]
    preds, j = _hand_built()
    preds.presence[:, j] = 0.05
    k = list(CODES).index("muscle_artifact")
    preds.presence[1, k] = 0.95
    found = session_findings(preds)
    assert found.codes == {"muscle_artifact"} and found.impression == "normal"
    assert found.get("muscle_artifact").evidence[0].start_s == 10.0


def test_pdr_gets_a_frequency_from_the_posterior_channels():
    from neuronarrator.narrator import session_findings

    preds, _ = _hand_built()
    j = list(CODES).index("pdr")
    preds.presence[:, j] = 0.9
    from neuronarrator.signal.synthetic import pink_noise_uv

    t = np.arange(12000) / 200.0
    background = pink_noise_uv(0, 19, 12000, 200.0, rms_uv=10.0)
    preds.data_uv = background + 30 * np.sin(2 * np.pi * 9.5 * t)
    found = session_findings(preds)
    f = found.get("pdr")
    assert f is not None and f.frequency_hz == pytest.approx(9.5, abs=0.3)
    # a 30 µV-amplitude sine is 60 µV peak to peak, and stands well above the 1/f background
    assert found.extras["pdr_amplitude_uv"] == pytest.approx(60.0, rel=0.15)
    assert found.extras["pdr_peak_to_background_db"] > 10
    preds.data_uv = background + 6 * np.sin(2 * np.pi * 9.5 * t)  # a weak rhythm reads weaker
    weak = session_findings(preds)
    if weak.get("pdr") is not None:
        assert weak.extras["pdr_amplitude_uv"] < 20 and weak.extras["pdr_peak_to_background_db"] < 10
    preds.data_uv = background  # no posterior peak above the 1/f background: the PDR is not claimed
    assert session_findings(preds).get("pdr") is None
    preds.data_uv = background + 30 * np.sin(2 * np.pi * 3.7 * t)  # a delta-theta peak is no PDR (< 4 Hz)
    assert session_findings(preds).get("pdr") is None


def test_evidence_channels_are_10_20_names(checkpoints):
    from neuronarrator.narrator import segment_predictions, session_findings
    from neuronarrator.train.stage1_stage import load_stage1

    model, calibration = load_stage1(checkpoints["stage1"])
    preds = segment_predictions(model, calibration, _signal(30.0, seed=1), explain_min_prob=0.0)
    found = session_findings(preds, threshold=0.0)  # every code listed: every code gets evidence
    # ... except the PDR (and its reactivity) where the noise signal shows no posterior peak
    no_pdr = {"pdr", "pdr_reactive"} if found.get("pdr") is None else set()
    assert found.codes == set(CODES) - no_pdr
    for f in found.findings:
        assert f.evidence
        for ev in f.evidence:
            assert set(ev.channels) <= set(CANONICAL_19) and "F3" not in ev.channels  # F3 is masked
    bipolar = segment_predictions(model, calibration, _signal(20.0, montage="bipolar"), explain_min_prob=0.0)
    for f in session_findings(bipolar, threshold=0.0).findings:
        assert all(set(ev.channels) <= set(CANONICAL_19) for ev in f.evidence)


def test_narrate_recording_on_a_phantom_edf(checkpoints, tmp_path):
    from neuronarrator.clinical.faithfulness import check_narrative
    from neuronarrator.clinical.phantom.files import write_phantom
    from neuronarrator.narrator import narrate_recording

    path, _ = write_phantom(tmp_path / "ph.edf", "focal_slowing:left:temporal", seed=3, duration_s=30)
    doc = narrate_recording(path, checkpoints["stage1"], checkpoints["narrator"], device="cpu")
    report = check_narrative(doc.narrative, doc.findings)
    assert report.ok, report.issues
    assert doc.faithfulness["after"]["unsupported"] == 0 and doc.faithfulness["after"]["omitted"] == 0
    assert set(doc.faithfulness["before"]) == {"unsupported", "omitted", "contradictions", "n_asserted"}
    assert doc.provenance["confident"] == 0.5  # every listed finding must be stated (DESIGN.md)
    # a phantom EDF carries its ECG lead, and the report reads it
    assert doc.recording["ecg_channel"] == "EKG" and doc.findings.extras["ecg_lead"]["usable"]
    linked = {i for link in doc.sentences for i in link["findings"]}
    assert linked == set(range(len(doc.findings.findings)))  # each finding stated, each statement linked
    for link in doc.sentences:
        assert link["text"] == doc.narrative[link["start"] : link["end"]]
        assert link["findings"] and all(0 <= i < len(doc.findings.findings) for i in link["findings"])
    out = doc.to_dict()
    assert out["recording"]["file"] == str(path) and out["recording"]["duration_s"] == pytest.approx(30.0)
    assert (
        out["impression"] in ("normal", "abnormal") and out["state"] in STATES and out["state_predicted"]
    )
    assert out["narrative"]["text"] == doc.narrative and len(out["model"]["stage1_sha256"]) == 64
    # DESIGN.md's single model digest: of both checkpoints' digests, so either file changing changes it
    pair = f"{out['model']['stage1_sha256']}\n{out['model']['narrator_sha256']}\n".encode()
    assert out["model"]["checkpoint_sha256"] == hashlib.sha256(pair).hexdigest()
    assert out["provenance"]["n_segments"] == 3
    for f in out["findings"]:
        assert 0.5 <= f["probability"] <= 1 and f["evidence"]

    control = narrate_recording(path, checkpoints["stage1"], checkpoints["narrator"], device="cpu",
                                shuffle_segments=True, seed=1)  # fmt: skip
    assert control.findings == doc.findings and control.provenance["shuffle_segments"]
    assert check_narrative(control.narrative, control.findings).ok


def test_too_short_and_unreadable_recordings_are_input_errors(checkpoints, tmp_path, write_eeg_file):
    from neuronarrator.narrator import narrate_recording

    with pytest.raises(RecordingTooShortError, match="synthetic-0"):
        narrate_recording(_signal(9.0), checkpoints["stage1"], checkpoints["narrator"])
    short = write_eeg_file("edf", CANONICAL_19, 200.0, 6.0, name="short")
    with pytest.raises(RecordingTooShortError, match="short.edf"):
        narrate_recording(short, checkpoints["stage1"], checkpoints["narrator"])
    junk = tmp_path / "junk.edf"
    junk.write_bytes(b"not an edf at all" * 10)
    with pytest.raises(InputError, match="junk.edf"):
        narrate_recording(junk, checkpoints["stage1"], checkpoints["narrator"])


def test_sleep_montage_derivations_are_placed_on_the_nearest_rows(write_eeg_file):
    """A Sleep-EDF-like file (EEG only as Fpz-Cz and Pz-Oz) gives the heads three approximated rows instead
    of none, and says so."""
    from neuronarrator.corpus.store import channel_names
    from neuronarrator.narrator.pipeline import recording_signal

    rng = np.random.default_rng(0)
    data = rng.normal(0, 20, (2, 100 * 30))
    data[1] = 40 * np.sin(2 * np.pi * 10 * np.arange(3000) / 100)  # Pz-Oz: a 10 Hz posterior rhythm
    path = write_eeg_file("edf", ["EEG Fpz-Cz", "EEG Pz-Oz"], sfreq_hz=100.0, duration_s=30.0, data_uv=data)
    signal, info = recording_signal(path)
    rows = channel_names("bipolar")
    assert signal.montage == "bipolar"
    assert info["recording"]["channels_approximated"] == {"Fz-Cz": "Fpz-Cz", "P3-O1": "Pz-Oz", "P4-O2": "Pz-Oz"}
    assert {rows[i] for i in np.flatnonzero(signal.channel_mask)} == {"Fz-Cz", "P3-O1", "P4-O2"}
    p3o1 = signal.data_uv[rows.index("P3-O1")]
    assert np.array_equal(p3o1, signal.data_uv[rows.index("P4-O2")]) and np.std(p3o1) > 10


def test_ecg_artifact_is_read_off_the_recordings_ecg_lead(checkpoints, tmp_path):
    """A 60-s phantom at 250 Hz with an EKG channel: where the EEG carries the heart's field on the left,
    ECG artifact is listed with left-sided rows and stated in the narrative; the same EEG without the field
    has no ECG artifact (whatever the heads said), and the report records the lead's heart rate."""
    from neuronarrator.clinical.label import label_report
    from neuronarrator.clinical.phantom.artifacts import ecg_template
    from neuronarrator.clinical.phantom.generate import generate
    from neuronarrator.io.write import write_edf
    from neuronarrator.narrator import narrate_recording

    fs, seconds = 250.0, 60
    eeg = generate([], seed=5, duration_s=seconds, sfreq_hz=fs).data_uv.astype(np.float64)
    n = eeg.shape[1]
    beats = np.arange(0.7, seconds - 0.5, 60.0 / 70.0)  # 70 bpm
    template, anchor = ecg_template(fs)
    train = np.zeros(n + len(template))
    for b in (beats * fs).astype(int):
        train[b - anchor : b - anchor + len(template)] += template
    train = train[:n]
    field = np.zeros(19)
    field[[CANONICAL_19.index(c) for c in ("F7", "T7", "P7")]] = [14.0, 16.0, 12.0]
    lead = 1000.0 * train + np.random.default_rng(0).normal(0, 10, n)
    found = {}
    for name, data in (("with", eeg + field[:, None] * train), ("without", eeg)):
        path = write_edf(tmp_path / f"{name}.edf", np.vstack([data, lead]), fs, [*CANONICAL_19, "EKG"])
        doc = narrate_recording(path, checkpoints["stage1"], checkpoints["narrator"], device="cpu")
        found[name] = doc
        assert doc.findings.extras["ecg_lead"]["usable"]
        assert doc.findings.extras["ecg_lead"]["heart_rate_bpm"] == pytest.approx(70, abs=2)
        assert doc.recording["ecg_channel"] == "EKG"
        assert doc.to_dict()["measurements"]["heart_rate_bpm"] == pytest.approx(70, abs=2)
    ecg = found["with"].findings.get("ecg_artifact")
    assert ecg is not None and ecg.probability == pytest.approx(0.99)
    assert ecg.channels and set(ecg.channels) <= {"F7", "T7", "P7", "F3", "C3", "P3", "Fp1", "O1"}
    assert "ecg_artifact" in label_report(found["with"].narrative).codes
    assert found["without"].findings.get("ecg_artifact") is None
    assert "ecg_artifact" not in label_report(found["without"].narrative).codes
    # a bipolar-only file (CHB-MIT's labels) with the same lead: derivations name both their electrodes
    from neuronarrator.io.channels import DOUBLE_BANANA, bipolar_matrix

    derivations = bipolar_matrix() @ (eeg + field[:, None] * train)
    labels = [f"{a.upper()}-{b.upper()}" for a, b in DOUBLE_BANANA]
    path = write_edf(tmp_path / "bipolar.edf", np.vstack([derivations, lead]), fs, [*labels, "EKG"])
    doc = narrate_recording(path, checkpoints["stage1"], checkpoints["narrator"], device="cpu")
    assert doc.recording["montage"] == "bipolar"
    ecg = doc.findings.get("ecg_artifact")
    assert ecg is not None and set(ecg.channels) <= set(CANONICAL_19)
    assert {"F7", "T7", "P7"} & set(ecg.channels)
