"""Segment predictions → session findings with evidence (NeuroNarrator inference, issue 6 part 4).

:class:`SegmentPredictions` holds what stage 1 says about each 10-s segment of a session;
:func:`session_findings` turns it into a :class:`~neuronarrator.clinical.findings.Findings` document.

Aggregation over segments (the session probability of a code)
    the **maximum** of the segments' calibrated presence probabilities, mapped through the session-level
    calibration where stage 1 has one (``SegmentPredictions.session_calibration``: Platt per code on the
    val sessions' maxima; the maximum of six or of 120 segment probabilities sits above the segment scale,
    and the 0.5 threshold must mean "more likely present than not" for the *session*). A finding that shows in one
    segment (a focal spike, a 10-s seizure) is a finding of the recording, so the session statement is
    "some segment shows it"; the maximum is the Fréchet lower bound of P(any segment shows it) under any
    dependence between segments, so it never claims more than one segment's evidence supports. Noisy-OR
    (1 − Π(1 − p)) would be the bound under independence, but neighbouring segments are far from
    independent and noisy-OR compounds small false-positive probabilities over a long recording (360
    segments at p = 0.01 give 0.97); a mean (or top-k mean) dilutes a one-segment finding. The price of
    the maximum: one confident false-positive segment is enough; the evidence list shows which.

Side and regions
    probability-weighted votes: the segments' side (softmax) and region (sigmoid) probabilities averaged
    with the segments' presence probabilities as weights. A lateralized code takes the most probable of
    left/right/bilateral/midline (the schema needs one); a generalized code gets no side (it is generalized
    by definition); a seizure a side only when its vote reaches 0.5; any other code none (the side head is
    trained only where labels give a side: :data:`SIDED_CODES`). Regions, for the same lateralized and
    sided codes only: those whose vote reaches 0.5.

Evidence
    the segments where the finding is most probable: up to ``max_evidence`` segments at or above the
    threshold (the most probable first), merged when contiguous, each with the ``n_channels`` channels of
    highest positive relevance summed over its segments -- for a finding with a side (left, right, midline),
    the electrodes over that side and its regions (:func:`located_electrodes`: the side and region heads
    are accurate, gradient × input alone scatters over the head) in the order of their relevance; for the
    normal patterns and eye artifacts, among their typical electrodes (:data:`TYPICAL_ELECTRODES`) (see
    :func:`~neuronarrator.narrator.pipeline.
    segment_predictions` for the relevance). Bipolar-only sessions name the electrodes of the most relevant
    derivations.

ECG artifact with an ECG lead (:func:`with_ecg_lead`)
    where the recording has an ECG channel, its verdict (:mod:`neuronarrator.signal.cardiac`: the EEG's
    R-locked windows projected on the lead's QRS template, tested over all rows against the beat-to-beat
    spread) decides
    ``ecg_artifact`` instead of the heads, as a neurologist decides it from the EKG trace: listed with the rows
    that follow the R waves and the whole recording as its span when the lead shows it, removed when a usable
    lead shows no locked deflection. Its probability (0.99) is that of a test decision at p <= 1e-4, not a
    calibrated estimate. A lead without a plausible heartbeat (flat, disconnected) leaves the heads' call.
    ``Findings.extras["ecg_lead"]`` records the heart rate and whether the lead was usable; a usable lead's
    rate is also the report's ``measurements.heart_rate_bpm``. Applied by
    :meth:`~neuronarrator.narrator.pipeline.Narrator.findings` and, for a streamed recording (over 2 h),
    :func:`~neuronarrator.narrator.stream.stream_document`; either montage (a derivation names both its
    electrodes).

State and impression
    the dominant state is the state of highest mean probability over the segments (stage 1's state head,
    ``SegmentPredictions.state``); ``Findings.extras`` holds ``state_predicted`` (True), the dominant
    state's mean probability and the per-segment state timeline (argmax per segment). Predictions without
    a state head (``state`` None) *assume* ``awake`` and say so (``state_predicted`` False). The impression
    is derived from the findings (abnormal iff an abnormal code is present).

PDR frequency
    the schema needs ``frequency_hz`` for ``pdr`` and stage 1 has no frequency head: it is
    :func:`~neuronarrator.signal.bands.posterior_dominant_rhythm` of the posterior channels (O1, O2, P3,
    Pz, P4, P7, P8; bipolar: the derivations ending at O1/O2) over the PDR's evidence segments. Where that
    finds no peak above the 1/f background the PDR is not listed, whatever the heads say: a plain spectral
    maximum in 4-14 Hz sits at 4 Hz on an eyes-open record and would be reported as a slow PDR. Its
    amplitude (peak-to-peak µV of the power above the 1/f background near the peak) and how far the peak
    stands above that background (dB) go to ``Findings.extras`` (``pdr_amplitude_uv``,
    ``pdr_peak_to_background_db``), so the report says how strong the rhythm is, not only that it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from neuronarrator.clinical.findings import (
    CODES,
    FREQUENCY_RANGE_HZ,
    GENERALIZED_CODES,
    LATERALIZED_CODES,
    REGIONS,
    SIDES,
    STATES,
    Evidence,
    Finding,
    Findings,
    StateSpan,
)
from neuronarrator.io.channels import CANONICAL_19

__all__ = ["SEGMENT_S", "SegmentPredictions", "aggregate_presence", "evidence_spans", "session_findings",
           "state_epochs"]

#: Segment length, seconds (2,000 samples at 200 Hz).
SEGMENT_S = 10.0
_CODES = tuple(CODES)
_LATERAL_SIDES = ("left", "right", "bilateral", "midline")
_POSTERIOR = ("O1", "O2", "P3", "Pz", "P4", "P7", "P8")


@dataclass
class SegmentPredictions:
    """Stage 1's view of each 10-s segment of one session.

    Attributes
    ----------
    presence : (n_seg, n_codes) calibrated presence probabilities, codes in :data:`CODES` order.
    side : (n_seg, n_codes, n_sides) side probabilities (softmax over :data:`SIDES`).
    regions : (n_seg, n_codes, n_regions) region probabilities (sigmoid, :data:`REGIONS`).
    relevance : (n_seg, n_codes, 19) per-row relevance of the presence logit (gradient × input; 0 on
        masked rows and for codes not explained, see ``explained``).
    channels : the 19 row names (10-20 electrodes, or the double banana and ``""``).
    channel_mask : (19,) bool.
    starts_s : (n_seg,) segment start times, seconds from the session start.
    explained : (n_codes,) bool: codes whose relevance was computed.
    data_uv : the session's (19, n) µV, kept for the PDR frequency (None: no frequency estimate).
    state : (n_seg, n_states) state probabilities (softmax over :data:`STATES`), or None (no state head).
    session_calibration : the :class:`~neuronarrator.models.calibration.Calibration` of session scores
        (maxima of ``presence``), or None (the maximum is the session probability).
    embedding : (n_seg, d) the stage-1 waveform encoder's segment embeddings, or None; not used here, kept
        so that the narrator's features can reuse them (:func:`~neuronarrator.narrator.pipeline.shares_encoder`).
    band_power : (n_seg, 19, n_bands) the segments' band powers (µV², those of the scalp maps), or None;
        not used here, kept for the narrator's spectral summary.
    """

    presence: np.ndarray
    side: np.ndarray
    regions: np.ndarray
    relevance: np.ndarray
    channels: tuple[str, ...]
    channel_mask: np.ndarray
    starts_s: np.ndarray
    explained: np.ndarray = field(default_factory=lambda: np.ones(len(_CODES), bool))
    montage: str = "referential"
    data_uv: np.ndarray | None = field(default=None, repr=False)
    state: np.ndarray | None = None
    embedding: np.ndarray | None = field(default=None, repr=False)
    band_power: np.ndarray | None = field(default=None, repr=False)
    session_calibration: Any = field(default=None, repr=False)

    @property
    def n_segments(self) -> int:
        return int(self.presence.shape[0])


def aggregate_presence(presence: np.ndarray) -> np.ndarray:
    """(n_seg, n_codes) segment probabilities → (n_codes,) session probabilities: the maximum over segments
    (see the module docstring for why)."""
    presence = np.asarray(presence, np.float64)
    if presence.ndim != 2 or presence.shape[0] == 0:
        raise ValueError(f"presence must be (n_segments >= 1, n_codes), got {presence.shape}")
    return np.clip(presence.max(axis=0), 0.0, 1.0)


def evidence_spans(probs: np.ndarray, starts_s: np.ndarray, threshold: float, max_evidence: int = 3,
                   segment_s: float = SEGMENT_S) -> list[tuple[float, float, list[int]]]:  # fmt: skip
    """The ``max_evidence`` most probable segments at or above ``threshold`` (always the most probable one
    when none is), in time order, merged where contiguous: ``[(start_s, end_s, segment indices)]``."""
    probs = np.asarray(probs, np.float64)
    order = np.argsort(-probs, kind="stable")
    picked = [int(i) for i in order[:max_evidence] if probs[i] >= threshold] or [int(order[0])]
    picked.sort(key=lambda i: starts_s[i])
    spans: list[tuple[float, float, list[int]]] = []
    for i in picked:
        start, end = float(starts_s[i]), float(starts_s[i]) + segment_s
        if spans and abs(spans[-1][1] - start) < 1e-6:
            spans[-1] = (spans[-1][0], end, [*spans[-1][2], i])
        else:
            spans.append((start, end, [i]))
    return spans


def located_electrodes(side: str | None, regions: tuple[str, ...]) -> frozenset[str]:
    """The 10-20 electrodes over ``side`` (left/right/midline) and ``regions`` (all regions when none);
    empty for any other side (bilateral, generalized, none)."""
    from neuronarrator.clinical.location import ELECTRODE_REGIONS, electrode_side

    if side not in ("left", "right", "midline"):
        return frozenset()
    return frozenset(c for c in CANONICAL_19 if electrode_side(c) == side
                     and (not regions or set(ELECTRODE_REGIONS[c.upper()]) & set(regions)))  # fmt: skip


def _ranked(relevance: np.ndarray, channels: tuple[str, ...], mask: np.ndarray, n: int,
            within: frozenset[str], any_sign: bool) -> list[str]:  # fmt: skip
    """Electrodes of the present rows in decreasing relevance (a derivation gives its two), up to ``n``:
    only those in ``within`` (all when empty), only rows of positive relevance unless ``any_sign``."""
    score = np.where(np.asarray(mask, bool), relevance, -np.inf)
    names: list[str] = []
    for row in np.argsort(-score, kind="stable"):
        if not np.isfinite(score[row]) or (score[row] <= 0 and not any_sign) or len(names) >= n:
            break
        names += [e for e in channels[row].split("-") if e in CANONICAL_19 and e not in names
                  and (not within or e in within)]  # fmt: skip
    return names[:n]


def _top_channels(relevance: np.ndarray, channels: tuple[str, ...], mask: np.ndarray, n: int,
                  within: frozenset[str] = frozenset()) -> list[str]:  # fmt: skip
    """The ``n`` electrodes of highest positive relevance. With ``within`` (where the finding is): those of
    its electrodes with positive relevance, else the most relevant of them whatever the sign (the location
    says where; relevance only orders), else -- none of them present -- the whole head's."""
    if not within:
        return _ranked(relevance, channels, mask, n, frozenset(), any_sign=False)
    return (_ranked(relevance, channels, mask, n, within, any_sign=False)
            or _ranked(relevance, channels, mask, n, within, any_sign=True)
            or _ranked(relevance, channels, mask, n, frozenset(), any_sign=False))  # fmt: skip


#: Fewer present rows than this and the montage cannot show where a pattern is: a polysomnogram's two or
#: three EEG derivations (Sleep-EDF: Fpz-Cz, Pz-Oz) or a heavily masked recording.
MIN_ROWS_SPATIAL = 8
#: Codes defined by where they are -- generalized (both hemispheres, front and back), lateralized (one
#: hemisphere against the other) or diffuse -- which such a montage cannot establish; the report lists
#: them as not assessable instead of guessing (a reader of a two-derivation PSG would not call
#: "generalized spike-and-wave" either).
SPATIAL_CODES = GENERALIZED_CODES | LATERALIZED_CODES | frozenset({"excess_beta"})
#: Where the normal patterns and the eye artifacts are seen, by definition (ACNS 2021; Niedermeyer): the
#: evidence of these codes names electrodes among these, as a reader would ("alpha over O1/O2").
TYPICAL_ELECTRODES: dict[str, frozenset[str]] = {
    "pdr": frozenset({"O1", "O2", "P3", "P4", "Pz", "P7", "P8"}),
    "pdr_reactive": frozenset({"O1", "O2", "P3", "P4", "Pz", "P7", "P8"}),
    "sleep_spindles": frozenset({"F3", "Fz", "F4", "C3", "Cz", "C4"}),
    "vertex_waves": frozenset({"Fz", "Cz", "Pz", "C3", "C4"}),
    "k_complexes": frozenset({"Fz", "Cz", "F3", "F4", "C3", "C4"}),
    "eye_blink_artifact": frozenset({"Fp1", "Fp2", "F3", "Fz", "F4"}),
    "eye_movement_artifact": frozenset({"F7", "F8", "Fp1", "Fp2"}),
}
#: Codes that carry a side without being lateralized by definition: a seizure is focal (left, right) or
#: generalized. The side head is trained only where the labels give a side (corpus: the lateralized
#: codes, seizures and the generalized ones), so for every other code (the PDR, sleep transients,
#: artifacts) its output means nothing and no side is reported.
SIDED_CODES = frozenset({"seizure"})


def _side(code: str, vote: np.ndarray) -> str | None:
    if code in GENERALIZED_CODES:
        return None
    if code in LATERALIZED_CODES:
        return max(_LATERAL_SIDES, key=lambda s: vote[SIDES.index(s)])
    if code not in SIDED_CODES:
        return None
    best = int(np.argmax(vote))
    return SIDES[best] if vote[best] >= 0.5 else None


def _pdr_estimate(preds: SegmentPredictions, segments: list[int]) -> tuple[float | None, dict[str, float]]:
    """The PDR over the evidence segments by :func:`~neuronarrator.signal.bands.posterior_dominant_rhythm`
    (the project's estimator: a peak above the 1/f background, with a confidence): ``(frequency_hz or None
    when it finds none, facts)``, facts = ``pdr_amplitude_uv`` (peak-to-peak µV of a sinusoid carrying
    the power above the 1/f background within ±1 Hz of the peak, 2√2 × its RMS, as the phantom and a
    reader with a ruler define it) and ``pdr_peak_to_background_db`` (how far the peak stands out: a
    well-formed eyes-closed alpha is 10-20 dB, an eyes-open residue a few dB)."""
    from neuronarrator.corpus.sources.base import SFREQ_HZ
    from neuronarrator.signal.bands import posterior_dominant_rhythm

    if preds.data_uv is None:
        return None, {}
    posterior = (_POSTERIOR if preds.montage == "referential"
                 else tuple(c for c in preds.channels if c.endswith(("-O1", "-O2"))))  # fmt: skip
    n = int(round(SEGMENT_S * SFREQ_HZ))
    data = np.concatenate([preds.data_uv[:, i * n : (i + 1) * n] for i in segments], axis=1)
    pdr = posterior_dominant_rhythm(data, SFREQ_HZ, preds.channels, channels=posterior,
                                    channel_mask=preds.channel_mask)  # fmt: skip
    low, high = FREQUENCY_RANGE_HZ["pdr"]
    if pdr.frequency_hz is None or not low <= pdr.frequency_hz <= high:
        return None, {}  # no peak, or a peak no PDR has (a 3.8 Hz delta peak is slowing, not a PDR)
    facts = {"pdr_amplitude_uv": round(float(2.0 * np.sqrt(2.0) * np.sqrt(pdr.rhythm_power_uv2)), 1),
             "pdr_peak_to_background_db": round(float(pdr.peak_to_background_db), 2)}  # fmt: skip
    return pdr.frequency_hz, facts


def session_findings(preds: SegmentPredictions, *, threshold: float = 0.5, max_evidence: int = 3,
                     n_channels: int = 3) -> Findings:  # fmt: skip
    """The session's findings from its segment predictions (see the module docstring for each rule).

    Codes whose session probability reaches ``threshold`` are listed, with that probability; ``pdr_reactive``
    is dropped when no ``pdr`` is listed (the schema makes reactivity a property of a listed PDR). With
    fewer than :data:`MIN_ROWS_SPATIAL` rows present the :data:`SPATIAL_CODES` are not listed but named in
    ``extras["not_assessable"]``.
    """
    session = aggregate_presence(preds.presence)
    if preds.session_calibration is not None:
        session = preds.session_calibration.apply_probabilities(session[None, :])[0]
    sparse = int(np.asarray(preds.channel_mask, bool).sum()) < MIN_ROWS_SPATIAL
    not_assessable = [c for c in _CODES if sparse and c in SPATIAL_CODES]
    weights = np.asarray(preds.presence, np.float64)  # (n_seg, n_codes)
    listed: list[Finding] = []
    pdr_facts: dict[str, float] = {}
    for j, code in enumerate(_CODES):
        if session[j] < threshold or code in not_assessable:
            continue
        w = weights[:, j] / max(weights[:, j].sum(), 1e-12)
        side = _side(code, w @ preds.side[:, j, :])
        region_vote = w @ preds.regions[:, j, :]
        located = code in LATERALIZED_CODES or code in SIDED_CODES  # the codes the region head is trained on
        regions = tuple(r for r, v in zip(REGIONS, region_vote, strict=True) if v >= 0.5) if located else ()
        located = located_electrodes(side, regions) if located else TYPICAL_ELECTRODES.get(code, frozenset())
        evidence, used = [], []
        for start, end, segs in evidence_spans(weights[:, j], preds.starts_s, threshold, max_evidence):
            rel = preds.relevance[segs, j, :].sum(axis=0)
            evidence.append(Evidence(start, end, tuple(_top_channels(rel, preds.channels, preds.channel_mask,
                                                                     n_channels, located))))  # fmt: skip
            used.extend(segs)
        channels = tuple(dict.fromkeys(c for e in evidence for c in e.channels))
        freq = None
        if code == "pdr":
            freq, pdr_facts = _pdr_estimate(preds, used)
            if freq is None:
                continue  # the heads say PDR but the posterior spectrum shows no peak: not claimed
        listed.append(Finding(code, float(session[j]), side=side, regions=regions, frequency_hz=freq,
                              channels=channels, evidence=tuple(evidence)))  # fmt: skip
    if not any(f.code == "pdr" for f in listed):
        listed = [f for f in listed if f.code != "pdr_reactive"]
    state, extras = session_state(preds)
    if any(f.code == "pdr" for f in listed):
        extras.update(pdr_facts)
    if not_assessable:
        extras["not_assessable"] = not_assessable
    return Findings(findings=tuple(listed), state=state, state_timeline=state_epochs(preds), extras=extras)


#: Probability given to ECG artifact decided from the ECG lead (a test decision, module docstring).
ECG_LEAD_PROBABILITY = 0.99


def with_ecg_lead(found: Findings, verdict: Any, row_channels: Sequence[tuple[str, ...]],
                  duration_s: float) -> Findings:  # fmt: skip
    """``found`` with ``ecg_artifact`` decided by the ECG lead's :class:`~neuronarrator.signal.cardiac.
    CardiacVerdict` where the lead is usable (module docstring); ``row_channels`` gives each row's electrodes
    (one for a referential row, the two of a derivation)."""
    extras = dict(found.extras)
    extras["ecg_lead"] = {"usable": bool(verdict.usable), "heart_rate_bpm": verdict.heart_rate_bpm}
    listed = list(found.findings)
    if verdict.usable:
        extras["heart_rate_bpm"] = verdict.heart_rate_bpm  # a report measurement (narrator.document)
        listed = [f for f in listed if f.code != "ecg_artifact"]
        if verdict.present:
            channels = tuple(dict.fromkeys(c for i in verdict.rows for c in row_channels[i]))
            listed.append(Finding("ecg_artifact", ECG_LEAD_PROBABILITY, channels=channels,
                                  evidence=(Evidence(0.0, float(duration_s), channels),)))  # fmt: skip
            listed.sort(key=lambda f: _CODES.index(f.code))
    return replace(found, findings=tuple(listed), extras=extras)


def session_state(preds: SegmentPredictions) -> tuple[str, dict]:
    """The dominant state and the ``Findings.extras`` that describe it (see the module docstring)."""
    if preds.state is None:
        return "awake", {"state_predicted": False}
    probs = np.asarray(preds.state, np.float64)  # (n_seg, n_states)
    mean = probs.mean(axis=0)
    k = int(mean.argmax())
    return STATES[k], {"state_predicted": True, "state_probability": round(float(mean[k]), 4),
                       "state_timeline": [STATES[int(i)] for i in probs.argmax(axis=1)]}  # fmt: skip


def state_epochs(preds: SegmentPredictions, epoch_s: float = 30.0) -> tuple[StateSpan, ...]:
    """The 30-s state timeline of DESIGN.md (a hypnogram's epochs): per epoch, the state of highest mean
    probability over the segments that start in it; () without a state head."""
    if preds.state is None or not len(preds.starts_s):
        return ()
    probs = np.asarray(preds.state, np.float64)
    epoch = (np.asarray(preds.starts_s) // epoch_s).astype(int)
    end_s = float(preds.starts_s[-1]) + SEGMENT_S
    spans = []
    for e in np.unique(epoch):
        k = int(probs[epoch == e].mean(axis=0).argmax())
        spans.append(StateSpan(float(e * epoch_s), float(min((e + 1) * epoch_s, end_s)), STATES[k]))
    return tuple(spans)
