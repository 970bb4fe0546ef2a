"""Generate a phantom recording with exact ground truth (writing it: :mod:`.files`).

The order of painting is fixed: the subject's background and state rhythms, then the requested
abnormal patterns (additive ones first, then those that scale the cortex: burst suppression and
asymmetry), then extracerebral activity; finally the linked-ears reference, instrument noise and the
acquisition filters (0.5 Hz low-frequency and 70 Hz high-frequency filter, the settings the ACNS
guideline for routine EEG asks for: Sinha et al. 2016, J Clin Neurophysiol 33:303).

The truth lists every finding present: the requested ones and those the state implies (a PDR and its
reactivity in an awake record with eye opening, blinks whenever the eyes are open, spindles and
K-complexes in N2, slow eye movements in drowsiness...). Each finding carries evidence: the seconds and
the channels where it shows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuronarrator.clinical.findings import CODES, LATERALIZED_CODES, STATES, Finding, Findings, StateSpan
from neuronarrator.clinical.phantom import abnormal, artifacts, epileptiform, rhythms
from neuronarrator.clinical.phantom.background import add_background, instrument_noise
from neuronarrator.clinical.phantom.canvas import EPOCH_S, Canvas, Spec, stream
from neuronarrator.clinical.phantom.request import (
    check_compatible,
    infer_state,
    parse_spec,
    request_specs,
    states_per_epoch,
)
from neuronarrator.clinical.phantom.subject import Subject, draw_findings, draw_subject
from neuronarrator.io.channels import CANONICAL_19
from neuronarrator.io.recording import Event

logger = logging.getLogger(__name__)

Generator = Callable[[Canvas, Spec], None]

#: Requested findings -> the function that paints them, in painting order within each stage.
GENERATORS: dict[str, Generator] = {
    # additive cortical patterns
    "generalized_slowing": abnormal.add_generalized_slowing,
    "focal_slowing": abnormal.add_focal_slowing,
    "excess_beta": abnormal.add_excess_beta,
    "lrda": abnormal.add_lrda,
    "grda": abnormal.add_grda,
    "focal_epileptiform": epileptiform.add_focal_epileptiform,
    "generalized_spike_wave": epileptiform.add_generalized_spike_wave,
    "lpd": epileptiform.add_lpd,
    "gpd": epileptiform.add_gpd,
    "seizure": epileptiform.add_seizure,
    # patterns that scale the cortex painted so far
    "burst_suppression": abnormal.apply_burst_suppression,
    "asymmetry": abnormal.apply_asymmetry,
    # extracerebral
    "eye_movement_artifact": artifacts.add_lateral_eye_movements,
    "muscle_artifact": artifacts.add_muscle,
    "electrode_artifact": artifacts.add_electrode_pops,
    "ecg_artifact": artifacts.add_ecg,
    "line_noise": artifacts.add_line_noise,
}

#: Patterns that replace the PDR (coma) or slow it (encephalopathy: periodic discharges are mostly
#: seen in obtunded patients with a slow background; ACNS 2021, E&P).
PDR_ABOLISHED_BY = frozenset({"burst_suppression"})
PDR_SLOWED_BY = frozenset({"generalized_slowing", "gpd", "lpd"})

#: Shortest record that can hold a seizure (>= 10 s, ACNS 2021) with a little before and after.
MIN_SEIZURE_RECORD_S = 14.0

#: Acquisition filters: first-order low-frequency (high-pass) and second-order high-frequency filter.
LOW_FREQUENCY_FILTER_HZ = 0.5
HIGH_FREQUENCY_FILTER_HZ = 70.0


@dataclass(frozen=True)
class PhantomRecording:
    """A generated recording and its truth.

    Attributes
    ----------
    data_uv : array, shape (19, n_times), float32
        Potentials in µV against linked ears ((A1 + A2) / 2), channels in :data:`CANONICAL_19` order.
    sfreq_hz : float
    channels : tuple of str
    truth : Findings
        Every finding present, each with evidence spans; the 30-s state timeline; the impression.
    events : tuple of Event
        Annotations as a technician would write them: eyes open / eyes closed, seizure.
    subject : Subject
    seed : int
    requested : tuple of str
        The finding specs asked for (or drawn), e.g. ``("focal_slowing:left:temporal",)``.
    notes : dict
        Generator parameters per code (e.g. spike peak times, seizure frequencies), for the sidecar.
    reference : str
    ecg_uv : array, shape (n_times,), float32, or None
        The recording's ECG lead (µV, through the same acquisition filters), beating with the same R peaks
        as the ``ecg_artifact`` the EEG may carry (:func:`~neuronarrator.clinical.phantom.artifacts.ecg_lead_uv`).
    """

    data_uv: np.ndarray
    sfreq_hz: float
    channels: tuple[str, ...]
    truth: Findings
    events: tuple[Event, ...]
    subject: Subject
    seed: int
    requested: tuple[str, ...] = ()
    notes: dict[str, Any] = field(default_factory=dict)
    reference: str = "linked ears (A1+A2)/2"
    ecg_uv: np.ndarray | None = None

    @property
    def duration_s(self) -> float:
        return self.data_uv.shape[1] / self.sfreq_hz

    def report_document(self, file: str = "") -> dict[str, Any]:
        """The truth in the shape of the report document (DESIGN.md), plus a ``phantom`` section."""
        from neuronarrator.clinical.phantom.files import report_document

        return report_document(self, file)


def _eyes_open_spans(
    canvas: Canvas, rng: np.random.Generator, force: bool
) -> tuple[tuple[float, float], ...]:
    """Eye-opening blocks: one 5-10-s block per awake 30-s epoch (a technician's "open your eyes"),
    and in records shorter than 20 s one 2.5-5-s block in 40 % of cases (or when ``force``)."""
    spans = []
    for start, end in canvas.state_spans("awake"):
        for e0 in np.arange(start, end, EPOCH_S):
            e1 = min(e0 + EPOCH_S, end)
            length = e1 - e0
            if length >= 20.0:
                block = rng.uniform(5.0, 10.0)
                onset = rng.uniform(e0 + 0.3 * length, e1 - block - 2.0)
            elif length >= 6.0 and (force or rng.random() < 0.4):
                block = rng.uniform(2.5, min(5.0, length / 2))
                onset = rng.uniform(e0 + 1.5, e1 - block - 1.0)
            else:
                continue
            spans.append((round(float(onset), 2), round(float(onset + block), 2)))
    return tuple(spans)


# ----------------------------------------------------------------------------------------- generation


def generate(
    findings: str | Sequence[str | Finding | Spec] | Findings | None = None,
    *,
    seed: int | np.random.Generator = 0,
    duration_s: float = 60.0,
    sfreq_hz: float = 200.0,
    state: str | Sequence[str] | None = None,
    eyes_open_s: Sequence[tuple[float, float]] | None = None,
    subject: Subject | None = None,
) -> PhantomRecording:
    """Generate a phantom clinical EEG with its ground truth.

    Parameters
    ----------
    findings : str, sequence, Findings or None
        What to put in: comma-separated specs ``code[:side][:region[+region]][:freq][:channel]``
        (``"focal_slowing:left:temporal,eye_blink_artifact"``), a list of specs, Finding or Spec
        objects, or a :class:`Findings` document (its state timeline is used too). ``None`` draws a
        state and findings at :data:`~neuronarrator.clinical.phantom.subject.PREVALENCE`. Findings
        implied by the state (PDR, reactivity, blinks, sleep transients) are added to the truth.
    seed : int or Generator
        Fixes everything; the same seed gives the same subject and background whatever is requested.
    duration_s, sfreq_hz : float
    state : str or sequence of str, optional
        The state (``awake drowsy n1 n2 n3 rem``), or one per 30-s epoch. Default: inferred from the
        findings (spindles or K-complexes: N2; vertex waves: N1; else awake).
    eyes_open_s : sequence of (start_s, end_s), optional
        Eyes-open spans; default: drawn (one 5-10-s block per awake 30-s epoch). ``()`` for none.
    subject : Subject, optional
        Use this subject instead of drawing one.

    Returns
    -------
    PhantomRecording
        ``data_uv`` (19, n_times) float32 referenced to linked ears, and the truth.
    """
    if isinstance(seed, np.random.Generator):
        entropy = int(seed.integers(0, 2**63 - 1))
    elif isinstance(seed, (int, np.integer)) and seed >= 0:
        entropy = int(seed)
    else:
        raise ValueError(f"seed must be a non-negative int or a numpy Generator, got {seed!r}")
    n_times = int(round(duration_s * sfreq_hz))
    if n_times < 2 * sfreq_hz:
        raise ValueError(f"duration_s must give at least 2 s of data, got {duration_s} s")
    if sfreq_hz < 100:
        raise ValueError(f"sfreq_hz must be >= 100 Hz (the phantom has content up to 70 Hz), got {sfreq_hz}")

    specs, request_state = request_specs(findings)
    drawn_state = None
    if findings is None:
        drawn_state, drawn = draw_findings(stream(entropy, "findings"))
        specs = [parse_spec(s) for s in drawn]
        if duration_s < MIN_SEIZURE_RECORD_S:  # a drawn seizure needs room; a requested one raises instead
            specs = [s for s in specs if s.code != "seizure"]
    codes = {s.code for s in specs}
    chosen = state if state is not None else request_state if request_state is not None else drawn_state
    epoch_states = states_per_epoch(chosen if chosen is not None else infer_state(codes), duration_s)
    check_compatible(codes, epoch_states)
    if subject is None:
        subject = draw_subject(stream(entropy, "subject"), slowed_pdr=bool(codes & PDR_SLOWED_BY))
    canvas = Canvas(entropy, sfreq_hz, n_times, subject, epoch_states)
    if "burst_suppression" in codes:
        canvas.eyes_open_s = tuple(eyes_open_s or ())
    elif eyes_open_s is None:
        force = bool(codes & {"pdr_reactive", "eye_blink_artifact"})
        canvas.eyes_open_s = _eyes_open_spans(canvas, canvas.stream("eyes"), force)
    else:
        canvas.eyes_open_s = tuple((float(a), float(b)) for a, b in eyes_open_s)
    for start, end in canvas.eyes_open_s:
        canvas.event(start, end - start, "eyes open")
        canvas.event(end, 0.0, "eyes closed")

    _paint(canvas, specs, codes)
    data = canvas.scalp() + instrument_noise(canvas.stream("instrument"), len(CANONICAL_19), n_times)
    data = acquisition_filter(data, sfreq_hz)
    ecg_uv = acquisition_filter(artifacts.ecg_lead_uv(canvas), sfreq_hz)
    truth = _truth(canvas)
    missing = codes - truth.codes
    if missing:
        logger.warning("requested findings left no evidence in %.1f s: %s", duration_s, sorted(missing))
    return PhantomRecording(
        data_uv=data.astype(np.float32), sfreq_hz=float(sfreq_hz), channels=CANONICAL_19, truth=truth,
        events=tuple(sorted(canvas.events, key=lambda e: e.onset_s)), subject=subject, seed=entropy,
        requested=tuple(str(s) for s in specs), notes=canvas.notes, ecg_uv=ecg_uv.astype(np.float32),
    )  # fmt: skip


def _paint(canvas: Canvas, specs: list[Spec], codes: set[str]) -> None:
    first = {s.code: s for s in reversed(specs)}  # the first spec of each code
    add_background(canvas)
    rhythms.add_mu_and_beta(canvas)
    if not codes & PDR_ABOLISHED_BY:
        rhythms.add_pdr(canvas, first.get("pdr"))
    rhythms.add_state_theta(canvas)
    rhythms.add_slow_eye_movements(canvas)
    rhythms.add_vertex_waves(canvas, first.get("vertex_waves"))
    rhythms.add_spindles(canvas, first.get("sleep_spindles"))
    rhythms.add_k_complexes(canvas, first.get("k_complexes"))
    rhythms.add_n3_delta(canvas)
    rhythms.add_rem(canvas)
    artifacts.add_blinks(canvas, first.get("eye_blink_artifact"))
    for code, generator in GENERATORS.items():  # dict order is the painting order
        for spec in (s for s in specs if s.code == code):
            generator(canvas, spec)


def acquisition_filter(data_uv: np.ndarray, sfreq_hz: float) -> np.ndarray:
    """Zero-phase amplitude response of the acquisition filters (first-order 0.5 Hz high-pass, second-order
    70 Hz low-pass, both Butterworth magnitudes), applied in the frequency domain; removes the mean."""
    n = data_uv.shape[-1]
    freqs = np.fft.rfftfreq(n, d=1.0 / sfreq_hz)
    ratio = freqs / LOW_FREQUENCY_FILTER_HZ
    response = ratio / np.sqrt(1.0 + ratio**2) / np.sqrt(1.0 + (freqs / HIGH_FREQUENCY_FILTER_HZ) ** 4)
    return np.fft.irfft(np.fft.rfft(data_uv, axis=-1) * response, n=n, axis=-1)


# ---------------------------------------------------------------------------------------------- truth


def _merge(findings: list[Finding]) -> list[Finding]:
    """One finding per code (per code and side for lateralized ones and seizures), in CODES order."""
    groups: dict[tuple, list[Finding]] = {}
    for f in findings:
        key = (f.code, f.side, f.regions) if f.code in LATERALIZED_CODES | {"seizure"} else (f.code,)
        groups.setdefault(key, []).append(f)
    merged = []
    order = list(CODES)
    for _key, group in sorted(groups.items(), key=lambda kv: (order.index(kv[0][0]), str(kv[0][1:]))):
        head = group[0]
        evidence = sorted((e for f in group for e in f.evidence), key=lambda e: (e.start_s, e.end_s))
        channels = {c for f in group for c in f.channels}
        merged.append(
            head.with_(evidence=tuple(evidence), channels=tuple(c for c in CANONICAL_19 if c in channels))
        )
    return merged


def _truth(canvas: Canvas) -> Findings:
    timeline = tuple(
        StateSpan(i * EPOCH_S, min((i + 1) * EPOCH_S, canvas.duration_s), s)
        for i, s in enumerate(canvas.epoch_states)
    )
    time_in = {s: sum(span.end_s - span.start_s for span in timeline if span.state == s) for s in STATES}
    dominant = max(STATES, key=lambda s: (time_in[s], -STATES.index(s)))
    return Findings(findings=tuple(_merge(canvas.findings)), state=dominant, state_timeline=timeline,
                    extras={"subject": canvas.subject.to_dict()})  # fmt: skip


__all__ = ["GENERATORS", "PhantomRecording", "acquisition_filter", "generate"]
