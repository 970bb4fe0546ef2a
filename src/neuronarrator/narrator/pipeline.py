"""NeuroNarrator inference: a recording → stage-1 segment predictions → session findings with evidence →
the narrator's text, repaired against the findings → the report document (DESIGN.md).

Per-channel relevance (the "channels" of each evidence span)
    gradient × input of a code's presence logit with respect to the waveform encoder's per-token features
    (``Stage1Model.forward(...)["tokens"]``, (19, n_patches, d) per segment), summed over each row's
    patches and feature dimensions. With mean pooling (the default) the segment embedding is the mean of
    those tokens, so Σ_tokens ∇·token is the first-order (Taylor) decomposition of the logit over the
    tokens: a row's share says how much that channel's final features push the code's logit up (positive)
    or down (negative). Only positive shares are used as evidence. The topomap branch's share is not
    attributed to channels (it reads interpolated maps, not rows). With ``pool="cls"`` the final tokens
    do not reach the heads, so the same product is taken on the input waveform instead (∇ w.r.t. µV ×
    µV, summed over time). Relevance is computed only for codes some segment gives at least
    ``explain_min_prob``; the others are 0.

    How it is computed (mean pooling): the pooled embedding ``e = Σ_tokens token / count`` is linear in the
    tokens, so ∇_token logit = J / count for every token, J = ∂logit/∂e, and a row's share is
    ``J · (Σ_patches token_row) / count``. Stage 1 therefore runs without autograd; one backward pass per
    explained code and batch goes through the finding heads only (from ``e`` as a leaf), and the
    contraction with the per-row token sums is done in float64. This equals the gradient × input on the
    tokens up to float rounding (``tests/narrator/test_pipeline.py`` checks it against the direct product).
    With ``pool="cls"`` the whole encoder is differentiated, one backward pass per explained code and batch.

Speed
    :class:`Narrator` and :func:`narrate_recording` run with ``threads`` torch intra-op threads (default 1;
    None leaves torch's setting): the models are small and the decoding is token by token, so extra
    threads mostly spin (they cost CPU time, and on a busy machine wall time too). When the narrator's
    frozen stage-1 encoder has the stage-1 model's own weights (the usual pairing), the segment embeddings
    stage 1 computed are reused for the narrator's features instead of running the encoder again
    (:func:`shares_encoder`; CPU only, where neither runs under autocast); so are the band powers of the
    scalp maps, which are the narrator's spectral summary before its log.

The shuffled-EEG control (``shuffle_segments=True``)
    the narrator is fed the session's own segment feature vectors in a random order (seeded): the bag of
    segments is kept, their order lost. The findings, evidence and the repair target stay those of the
    real order (stage 1 is per segment and unaffected), so the document's ``faithfulness.before`` measures
    how much of the raw narrative survives without temporal structure. A narrator that ignores order will
    not change; one conditioned on it will. (Features of another session are a different control: pass
    that session's features to :func:`~neuronarrator.train.narrator_stage.narrate` directly.)
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuronarrator.clinical.findings import CODES, Findings
from neuronarrator.corpus.sources.base import SFREQ_HZ
from neuronarrator.eval.signals import SessionSignal
from neuronarrator.io.channels import CANONICAL_19, DOUBLE_BANANA
from neuronarrator.io.errors import RecordingTooShortError
from neuronarrator.narrator.bundled import sha256_file
from neuronarrator.narrator.document import ReportDocument, sentence_links
from neuronarrator.narrator.evidence import SEGMENT_S, SegmentPredictions, session_findings, with_ecg_lead

__all__ = ["Narrator", "ReportDocument", "narrate_recording", "recording_signal", "segment_predictions",
           "shares_encoder", "torch_threads"]  # fmt: skip

log = logging.getLogger(__name__)
SEGMENT_SAMPLES = 2000
N_ROWS = 19


def _segments(signal: SessionSignal) -> np.ndarray:
    """(19, n) → (n_seg, 19, 2000) float32; the tail shorter than a segment is left out."""
    n = signal.data_uv.shape[1] // SEGMENT_SAMPLES
    if n == 0:
        raise RecordingTooShortError(signal.session_id, f"{signal.duration_s:.1f} s of signal; a report needs "
                                     f"at least one whole {SEGMENT_S:g}-s segment")  # fmt: skip
    data = np.asarray(signal.data_uv[:, : n * SEGMENT_SAMPLES], dtype=np.float32)
    return np.ascontiguousarray(data.reshape(data.shape[0], n, SEGMENT_SAMPLES).transpose(1, 0, 2))


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads, restoring the previous count afterwards (None:
    leave it as it is)."""
    previous = torch.get_num_threads()
    if n is None or n == previous:
        yield
        return
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _pooled_embedding(tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(embedding (B, d), token count (B,)) of the final tokens (B, 19, P, d) by mean pooling over the
    tokens of rows that hold data, as :class:`~neuronarrator.models.encoders.WaveformEncoder` pools (masked
    rows' tokens are 0 and left out of the count)."""
    valid = tokens.detach().abs().amax(dim=-1) > 0  # (B, 19, P): masked rows are exactly 0
    count = valid.sum((1, 2)).clamp_min(1).to(tokens.dtype)
    return tokens.sum((1, 2)) / count[:, None], count


def _context(res: dict[str, Any]) -> dict[str, Any]:
    """What the heads read besides the pooled tokens, detached, from a Stage1Model output: the topomap
    embedding and the channel summaries' embeddings (None without them)."""
    detach = lambda t: None if t is None else t.detach().float()  # noqa: E731
    return {"topomap": detach(res["topomap"]), "channel_embedding": detach(res.get("channel_embedding")),
            "common": detach(res.get("common"))}  # fmt: skip


def _presence_from_embedding(model, embedding: torch.Tensor, context: dict[str, Any],
                             channel_embedding: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
    channel_embedding = context["channel_embedding"] if channel_embedding is None else channel_embedding
    head_in = model.head_input(embedding, context["topomap"], channel_embedding, context["common"])
    return model.heads(head_in)["presence"].float()


def _presence_from_tokens(model, tokens: torch.Tensor, context: dict[str, Any]) -> torch.Tensor:
    """Presence logits recomputed from the final tokens (B, 19, P, d) (see :func:`_pooled_embedding`)."""
    return _presence_from_embedding(model, _pooled_embedding(tokens)[0], context)


def _token_relevance_direct(model, tokens: torch.Tensor, context: dict[str, Any], codes) -> np.ndarray:
    """Gradient × input on the tokens and on the per-channel summary embeddings as leaves, one backward
    pass through the pooling per code: (B, n_codes, 19). The reference for :func:`_token_relevance`."""
    target = tokens.detach().float().requires_grad_(True)
    channel = context["channel_embedding"]
    leaves = [target] + ([channel.detach().requires_grad_(True)] if channel is not None else [])
    relevance = np.zeros((len(tokens), len(CODES), tokens.shape[1]), np.float32)
    with torch.enable_grad():
        embedding = _pooled_embedding(target)[0]
        logits = _presence_from_embedding(model, embedding, context, leaves[1] if channel is not None else None)
        for k, j in enumerate(codes):
            grads = torch.autograd.grad(logits[:, j].sum(), leaves, retain_graph=k < len(codes) - 1)
            share = (grads[0].float() * target.float()).flatten(2).sum(-1)
            if channel is not None:
                share = share + (grads[1].float() * leaves[1].float()).sum(-1)
            relevance[:, j] = share.detach().cpu().numpy()
    return relevance


def _token_relevance(model, tokens: torch.Tensor, context: dict[str, Any], codes) -> np.ndarray:
    """The same gradient × input as :func:`_token_relevance_direct`, through the pooled embedding (module
    docstring) plus the channel summaries' own share: (B, n_codes, 19) float32."""
    tokens = tokens.detach().float()
    relevance = np.zeros((len(tokens), len(CODES), tokens.shape[1]), np.float32)
    if len(codes) == 0:
        return relevance
    embedding, count = _pooled_embedding(tokens)
    channel = context["channel_embedding"]
    with torch.enable_grad():
        leaf = embedding.detach().requires_grad_(True)
        leaves = [leaf] + ([channel.detach().requires_grad_(True)] if channel is not None else [])
        logits = _presence_from_embedding(model, leaf, context, leaves[1] if channel is not None else None)
        grads = [torch.autograd.grad(logits[:, j].sum(), leaves, retain_graph=k < len(codes) - 1)
                 for k, j in enumerate(codes)]  # fmt: skip
    jac = torch.stack([g[0] for g in grads], dim=1).double() / count.double()[:, None, None]  # (B, K, d)
    rows = tokens.double().sum(2)  # (B, 19, d)
    share = torch.einsum("bkd,brd->bkr", jac, rows)
    if channel is not None:  # the channel summaries: gradient × input on each row's embedding
        share = share + torch.einsum("bkrh,brh->bkr", torch.stack([g[1] for g in grads], 1).double(), channel.double())
    relevance[:, np.asarray(codes, int)] = share.float().cpu().numpy()
    return relevance


def segment_predictions(stage1_model, calibration, signal: SessionSignal, batch_size: int = 32, *,
                        explain_min_prob: float = 0.25) -> SegmentPredictions:  # fmt: skip
    """Stage 1 on every 10-s segment of ``signal``: calibrated presence, side and region probabilities and
    per-channel relevance (see the module docstring), and the segment embeddings of the waveform encoder
    and (referential) the band powers of the segments, for the narrator's features.

    Raises
    ------
    RecordingTooShortError
        The signal holds no whole 10-s segment.
    """
    from neuronarrator.corpus.sources.base import SFREQ_HZ
    from neuronarrator.corpus.store import channel_names, segment_topomaps
    from neuronarrator.signal.bands import band_powers

    segments = _segments(signal)
    mask = np.asarray(signal.channel_mask, bool)
    referential = signal.montage == "referential"
    power = None
    if referential:  # the band powers of the maps, kept for the narrator's spectral summary
        power = band_powers(segments.astype(np.float64), SFREQ_HZ)  # (n_seg, 19, n_bands)
        topomaps = segment_topomaps(segments, mask, power=power)
    else:  # bipolar: no scalp map (the encoder's "no map" vector), as in the corpus
        topomaps = np.zeros((len(segments), 5, 32, 32), np.float32)
    model = stage1_model.eval()
    on_tokens = model.config.waveform.pool != "cls"
    device = model.device
    n_codes = len(CODES)
    out: dict[str, list[np.ndarray]] = {"presence": [], "side": [], "regions": [], "relevance": [], "state": [],
                                        "embedding": []}  # fmt: skip
    for b in range(0, len(segments), batch_size):
        wave = torch.from_numpy(segments[b : b + batch_size]).to(device)
        n = len(wave)
        wave.requires_grad_(not on_tokens)
        batch = {"waveform": wave, "channel_mask": torch.from_numpy(mask).expand(n, -1),
                 "topomap": torch.from_numpy(np.asarray(topomaps[b : b + batch_size], np.float32)),
                 "montage": [signal.montage] * n}  # fmt: skip
        with torch.set_grad_enabled(not on_tokens):  # on tokens: the backward passes start at the heads
            res = model(batch)
            presence = res["presence"].float()
            probs = calibration.apply(presence.detach().cpu().numpy())
            explain = np.flatnonzero(probs.max(axis=0) >= explain_min_prob)
            if on_tokens:
                relevance = _token_relevance(model, res["tokens"], _context(res), explain)
            else:
                relevance = np.zeros((n, n_codes, N_ROWS), np.float32)
                for k, j in enumerate(explain):
                    last = k == len(explain) - 1
                    (grad,) = torch.autograd.grad(presence[:, j].sum(), wave, retain_graph=not last)
                    share = (grad.float() * wave.float()).flatten(2).sum(-1)  # (n, 19)
                    relevance[:, j] = share.detach().cpu().numpy()
        out["presence"].append(probs)
        out["side"].append(torch.softmax(res["side"].detach().float(), -1).cpu().numpy())
        out["regions"].append(torch.sigmoid(res["regions"].detach().float()).cpu().numpy())
        out["state"].append(torch.softmax(res["state"].detach().float(), -1).cpu().numpy())
        out["embedding"].append(res["waveform"].detach().float().cpu().numpy())
        out["relevance"].append(np.where(mask[None, None, :], relevance, 0.0).astype(np.float32))
    arrays = {k: np.concatenate(v) for k, v in out.items()}
    explained = arrays["presence"].max(axis=0) >= explain_min_prob
    return SegmentPredictions(
        presence=arrays["presence"].astype(np.float64), side=arrays["side"], regions=arrays["regions"],
        relevance=arrays["relevance"], channels=channel_names(signal.montage), channel_mask=mask,
        starts_s=np.arange(len(segments)) * SEGMENT_S, explained=explained, montage=signal.montage,
        data_uv=np.asarray(signal.data_uv), state=arrays["state"].astype(np.float64),
        embedding=arrays["embedding"], band_power=power, session_calibration=getattr(calibration, "session", None),
    )  # fmt: skip


def shares_encoder(stage1_model, encoder) -> bool:
    """Whether the narrator's frozen stage-1 ``encoder`` computes what ``stage1_model``'s waveform encoder
    computes in :func:`segment_predictions` (the same class, config and weights, on the CPU, where neither
    runs under autocast), so that :attr:`SegmentPredictions.embedding` can stand for its embeddings."""
    if encoder is None or stage1_model is None:
        return False
    mine = stage1_model.waveform_encoder
    if type(mine) is not type(encoder) or mine.config != encoder.config:
        return False
    if stage1_model.device.type != "cpu" or next(encoder.parameters()).device.type != "cpu":
        return False
    a, b = mine.state_dict(), encoder.state_dict()
    return a.keys() == b.keys() and all(
        a[k].shape == b[k].shape and a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]) for k in a
    )


# --- the file → a SessionSignal -----------------------------------------------------------------------------


#: Bipolar recordings outside the double banana (sleep montages): a derivation the double banana lacks is
#: placed, as an *approximation*, on the double-banana rows nearest to it -- the same direction on the
#: scalp, longer or shorter inter-electrode distance. Sleep-EDF's only EEG is Fpz-Cz and Pz-Oz: without
#: this the heads would see no EEG at all and every statement would be the model's prior. The report
#: lists each placement (``recording.channels_approximated``) and the evidence names the row it sits on.
APPROXIMATE_DERIVATIONS: dict[str, tuple[str, ...]] = {
    "Fz-Cz": ("Fpz-Cz",),  # frontal midline chain: Fpz-Cz = (Fpz-Fz) + (Fz-Cz)
    "P3-O1": ("Pz-Oz",),  # posterior chains, where the PDR and posterior sleep activity show
    "P4-O2": ("Pz-Oz",),
}


def _approximate_rows(first, data: np.ndarray, mask: np.ndarray, extra: np.ndarray) -> dict[str, str]:
    """Fill masked double-banana rows from :data:`APPROXIMATE_DERIVATIONS` (in place); ``{row: source}``."""
    from neuronarrator.corpus.store import channel_names

    rows = channel_names("bipolar")
    extras = {name.replace(" ", ""): i for i, name in enumerate(first.extra_channels)}
    placed: dict[str, str] = {}
    for row, sources in APPROXIMATE_DERIVATIONS.items():
        r = rows.index(row)
        if mask[r]:
            continue
        source = next((s for s in sources if s in extras), None)
        if source is not None:
            data[r] = extra[extras[source]]
            mask[r] = True
            placed[row] = source
    return placed


def recording_signal(path: str | Path, *, chunk_s: float | None = None) -> tuple[SessionSignal, dict[str, Any]]:
    """Read and harmonize a file (in chunks of ``chunk_s``, default :data:`neuronarrator.session.CHUNK_S`,
    as :mod:`neuronarrator.session` does) into a 19-row
    :class:`SessionSignal`, with the harmonization's provenance and quality. A bipolar recording whose
    derivations lie outside the double banana gets them placed on the nearest rows
    (:data:`APPROXIMATE_DERIVATIONS`, listed in ``recording.channels_approximated``).

    Raises the :class:`~neuronarrator.io.errors.InputError` subclasses of reading and harmonizing (each
    names the file); :class:`RecordingTooShortError` for a recording under 10 s.
    """
    from neuronarrator.io.read import read_recording
    from neuronarrator.session import harmonized_chunks

    path = Path(path)
    recording = read_recording(path)
    chunks = list(harmonized_chunks(recording) if chunk_s is None else harmonized_chunks(recording, chunk_s))
    first = chunks[0]
    data = np.concatenate([c.data_uv for c in chunks], axis=1).astype(np.float32)
    mask = np.logical_and.reduce([np.asarray(c.channel_mask, bool) for c in chunks])
    if data.shape[0] < N_ROWS:  # bipolar-only: 18 derivations and one empty row
        data = np.concatenate([data, np.zeros((N_ROWS - data.shape[0], data.shape[1]), np.float32)])
        mask = np.concatenate([mask, np.zeros(N_ROWS - len(mask), bool)])
    approximated: dict[str, str] = {}
    if first.montage == "bipolar" and len(first.extra_channels) and first.extra_uv.size:
        extra = np.concatenate([c.extra_uv for c in chunks], axis=1).astype(np.float32)
        approximated = _approximate_rows(first, data, mask, extra)
    ecg, ecg_channel = ecg_lead(recording, data.shape[1])
    signal = SessionSignal(data_uv=data, channel_mask=mask, montage=first.montage, session_id=str(path), ecg_uv=ecg)
    bad = sorted({name for c in chunks for name in c.quality.bad_channel_names})
    info = {
        "recording": {"file": str(path), "duration_s": round(recording.duration_s, 3),
                      "sfreq_hz": float(first.source_sfreq_hz), "montage": first.montage,
                      "channels_used": [c for c, m in zip(first.channels, mask, strict=False) if m],
                      "channels_missing": list(first.channels_missing),
                      "channels_interpolated": sorted({n for c in chunks for n in c.channels_interpolated}),
                      "channels_approximated": approximated, "ecg_channel": ecg_channel},
        "quality": {"usable_fraction": round(float(np.mean([c.quality.usable_fraction for c in chunks])), 4),
                    "bad_channels": bad, "warnings": [w for c in chunks for w in c.quality.warnings]},
        "harmonization": {"sfreq_hz": first.sfreq_hz, "band_hz": list(first.band_hz),
                          "line_freq_hz": first.line_freq_hz, "n_chunks": len(chunks)},
    }  # fmt: skip
    return signal, info


def ecg_lead(recording, n_samples: int, start_s: float = 0.0) -> tuple[np.ndarray | None, str | None]:
    """The file's first ECG channel from ``start_s`` at the harmonized rate (n_samples,), and its label;
    (None, None) without one, (None, label) when its samples are not finite
    (:func:`~neuronarrator.signal.cardiac.lead_at_rate`)."""
    from neuronarrator.signal.cardiac import lead_at_rate

    label = ecg_label(recording)
    if label is None:
        return None, None
    stop_s = min(recording.duration_s, start_s + n_samples / SFREQ_HZ)
    lead = recording.get_data_uv([label], start_s, stop_s)[0]
    out = lead_at_rate(lead, recording.sfreq_hz, SFREQ_HZ, n_samples)
    return (out if np.all(np.isfinite(out)) else None), label


def ecg_label(recording) -> str | None:
    """The file's label of its first ECG channel, or None."""
    return next((lab.original for lab in recording.labels if lab.kind == "ecg"), None)


def row_electrodes(montage: str) -> list[tuple[str, ...]]:
    """Each of the 19 rows' electrodes: one per referential row, two per derivation (the 19th bipolar row
    is empty)."""
    return [(c,) for c in CANONICAL_19] if montage == "referential" else [*DOUBLE_BANANA, ()]


class Narrator:
    """Both trained stages loaded once, and the steps from a harmonized session to a repaired narrative.

    ``threshold`` lists a finding and is the repair's ``supported`` level; ``confident`` (default
    ``threshold``, so every listed finding must be stated, as DESIGN.md's contract asks) is the repair's
    omission level; ``seed`` picks the renderer's phrasing; ``threads``: torch intra-op threads of each
    step (module docstring; None: torch's setting).
    """

    def __init__(self, stage1_ckpt: str | Path, narrator_ckpt: str | Path, *,
                 device: str | torch.device | None = None, threshold: float = 0.5, confident: float | None = None,
                 seed: int = 0, threads: int | None = 1) -> None:  # fmt: skip
        from neuronarrator.train.narrator_stage import load_narrator
        from neuronarrator.train.stage1_stage import load_stage1

        self.stage1_ckpt, self.narrator_ckpt = stage1_ckpt, narrator_ckpt
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.threshold = threshold
        self.confident = threshold if confident is None else confident
        self.seed = seed
        self.threads = threads
        self.stage1, self.calibration = load_stage1(stage1_ckpt, self.device)
        self.bundle = load_narrator(narrator_ckpt, self.device)
        self.shared_encoder = shares_encoder(self.stage1, self.bundle.encoder)
        self.sha256 = {"stage1": sha256_file(stage1_ckpt), "narrator": sha256_file(narrator_ckpt)}
        # DESIGN.md's one model digest: SHA-256 of "<stage1 sha256>\n<narrator sha256>\n", so that any
        # change to either checkpoint changes it (each file's own digest is reported beside it)
        pair = f"{self.sha256['stage1']}\n{self.sha256['narrator']}\n".encode()
        self.checkpoint_sha256 = hashlib.sha256(pair).hexdigest()

    def findings(self, signal: SessionSignal) -> tuple[SegmentPredictions, Findings]:
        with torch_threads(self.threads):
            preds = segment_predictions(self.stage1, self.calibration, signal)
            found = session_findings(preds, threshold=self.threshold)
        if signal.ecg_uv is not None:
            from neuronarrator.signal.cardiac import ecg_artifact

            verdict = ecg_artifact(signal.data_uv, signal.ecg_uv, SFREQ_HZ, signal.channel_mask)
            found = with_ecg_lead(found, verdict, row_electrodes(signal.montage), signal.duration_s)
        return preds, found

    def features(self, signal: SessionSignal, preds: SegmentPredictions | None = None) -> np.ndarray:
        """The narrator's raw features of ``signal``; with ``preds`` (from :meth:`findings` on the same
        signal), its band powers are reused, and with a shared encoder stage 1's segment embeddings stand
        for the encoder's."""
        from neuronarrator.train.narrator_stage import session_features

        with torch_threads(self.threads):
            if self.shared_encoder and preds is not None and preds.embedding is not None:
                return session_features(signal, embeddings=preds.embedding, band_power=preds.band_power)
            return session_features(signal, self.bundle.encoder,
                                    band_power=None if preds is None else preds.band_power)  # fmt: skip

    def document(self, signal: SessionSignal, info: dict[str, Any] | None = None, *,
                 shuffle_segments: bool = False, model_name: str = "neuronarrator") -> ReportDocument:  # fmt: skip
        """The report document of one harmonized session (``info``: :func:`recording_signal`'s second value).

        Raises :class:`RecordingTooShortError` for a session without a whole 10-s segment."""
        info = info or {}
        _segments(signal)
        preds, predicted = self.findings(signal)
        features = self.features(signal, preds)
        if shuffle_segments:
            features = features[np.random.default_rng(self.seed).permutation(len(features))]
        raw, fixed, before, after = self.narrate(features, predicted)
        return self.assemble(preds, predicted, (raw, fixed, before, after), info, session_id=signal.session_id,
                             shuffle_segments=shuffle_segments, model_name=model_name)  # fmt: skip

    def assemble(self, preds: SegmentPredictions, predicted: Findings, narrated: tuple, info: dict[str, Any],
                 *, session_id: str, shuffle_segments: bool = False,
                 model_name: str = "neuronarrator") -> ReportDocument:  # fmt: skip
        """The report document from the session's segment predictions, findings, :meth:`narrate`'s four
        values and :func:`recording_signal`'s ``info`` (shared by :meth:`document` and the streamed path,
        :mod:`neuronarrator.narrator.stream`)."""
        raw, fixed, before, after = narrated
        if not after.ok:
            log.warning("%s: the repaired narrative still has issues: %s", session_id, after.counts)
        return ReportDocument(
            findings=predicted, narrative=fixed, raw_narrative=raw, sentences=sentence_links(fixed, predicted),
            faithfulness={"before": before.counts, "after": after.counts}, recording=info.get("recording", {}),
            quality=info.get("quality", {}),
            model={"name": model_name, "checkpoint_sha256": self.checkpoint_sha256,
                   "stage1_checkpoint": str(self.stage1_ckpt),
                   "stage1_sha256": self.sha256["stage1"], "narrator_checkpoint": str(self.narrator_ckpt),
                   "narrator_sha256": self.sha256["narrator"]},
            provenance={"harmonization": info.get("harmonization"), "threshold": self.threshold,
                        "confident": self.confident, "aggregation": "max over segments",
                        "relevance": "grad x input on waveform tokens", "shuffle_segments": bool(shuffle_segments),
                        "seed": self.seed, "n_segments": preds.n_segments, "device": str(self.device)},
        )  # fmt: skip

    def narrate(self, features: np.ndarray, predicted: Findings):
        """(raw text, repaired text, faithfulness before, after) of the narrator fed ``features``, repaired
        against ``predicted``."""
        from neuronarrator.train.narrator_stage import narrate

        with torch_threads(self.threads):
            raw = narrate(self.bundle, features)
        return (raw, *self.repair(raw, predicted))

    def repair(self, raw: str, predicted: Findings):
        """(repaired text, faithfulness before, after) of the narrator's ``raw`` text against ``predicted``."""
        from neuronarrator.clinical.repair import repair_narrative

        return repair_narrative(raw, predicted, rng=self.seed, confident=self.confident, supported=self.threshold)


def narrate_recording(path_or_signal: str | Path | SessionSignal, stage1_ckpt: str | Path,
                      narrator_ckpt: str | Path, *, device: str | torch.device | None = None,
                      threshold: float = 0.5, confident: float | None = None, shuffle_segments: bool = False,
                      seed: int = 0, threads: int | None = 1) -> ReportDocument:  # fmt: skip
    """The report document of one recording (a file, or an already harmonized :class:`SessionSignal`).

    Stage 1 (``stage1_ckpt``) gives the findings (:func:`segment_predictions`, :func:`session_findings` at
    ``threshold``); the narrator (``narrator_ckpt``) writes the text, which
    :func:`~neuronarrator.clinical.repair.repair_narrative` then makes agree with the findings (see
    :class:`Narrator` for ``threshold``, ``confident``, ``seed`` and ``threads``). ``shuffle_segments``: the
    shuffled-EEG control (module docstring).

    Raises
    ------
    InputError
        (Subclasses) the file cannot be read or harmonized; :class:`RecordingTooShortError` under 10 s.
    """
    if isinstance(path_or_signal, SessionSignal):
        signal, info = path_or_signal, {"recording": {"file": None, "session_id": path_or_signal.session_id,
                                                      "duration_s": path_or_signal.duration_s, "sfreq_hz": 200.0,
                                                      "montage": path_or_signal.montage}}  # fmt: skip
    else:
        signal, info = recording_signal(path_or_signal)
    _segments(signal)  # too short: fail before loading any model
    narrator = Narrator(stage1_ckpt, narrator_ckpt, device=device, threshold=threshold, confident=confident,
                        seed=seed, threads=threads)  # fmt: skip
    return narrator.document(signal, info, shuffle_segments=shuffle_segments)
