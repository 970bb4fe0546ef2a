"""The canvas every generator paints on: scalp potentials at the 21 sites, the timeline, the truth.

Generators are functions ``(canvas, spec) -> None`` that add potentials and record what they added
as :class:`~neuronarrator.clinical.findings.Finding` objects with evidence. Cortical activity and
extracerebral activity (eyes, muscle, heart, electrodes, mains) are kept apart because an amplitude
asymmetry (a lesion, a subdural collection) scales only the former.

Random numbers come from named streams (:meth:`Canvas.stream`): each stream is a child of the seed's
entropy keyed by the stream's name, so adding a focal spike to a case leaves the subject's background,
PDR and blinks sample-for-sample the same (paired cases with and without a finding), and the order in
which findings are listed does not matter.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from neuronarrator.clinical.findings import Evidence, Finding
from neuronarrator.clinical.phantom.head import N_SCALP, SITES
from neuronarrator.clinical.phantom.subject import Subject
from neuronarrator.clinical.phantom.waveforms import smooth_gate, spans_mask
from neuronarrator.io.recording import Event


def stream(entropy: int, name: str) -> np.random.Generator:
    """The random stream ``name`` of a seed: a child of ``SeedSequence(entropy)`` keyed by the name's CRC-32."""
    key = zlib.crc32(name.encode("utf-8"))
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(key,)))


@dataclass(frozen=True)
class Spec:
    """A requested finding before generation: what the caller fixed (the rest is drawn).

    Parsed from ``code[:side][:region[+region]][:frequency][:channel]``, e.g. ``focal_slowing:left:temporal``,
    ``pdr:9.5``, ``seizure:right:frontal+temporal``, ``electrode_artifact:T8``.
    """

    code: str
    side: str | None = None
    regions: tuple[str, ...] = ()
    frequency_hz: float | None = None
    channels: tuple[str, ...] = ()

    def __str__(self) -> str:
        parts = [self.code, self.side or "", "+".join(self.regions),
                 "" if self.frequency_hz is None else f"{self.frequency_hz:g}", *self.channels]  # fmt: skip
        return ":".join(p for p in parts if p)


#: Length of a scored epoch (AASM), which is also the state timeline's step.
EPOCH_S = 30.0


@dataclass
class Canvas:
    """Mutable state of one phantom being generated.

    Attributes
    ----------
    entropy : int
        The seed's entropy; streams are derived from it.
    sfreq_hz : float
    n_times : int
    subject : Subject
    epoch_states : tuple of str
        State of each 30-s epoch (the last one may be shorter).
    eyes_open_s : tuple of (float, float)
        Spans with eyes open (awake epochs only).
    cortical, extracerebral : array, shape (21, n_times)
        Potentials in µV at :data:`~neuronarrator.clinical.phantom.head.SITES`, against infinity.
    findings : list of Finding
    events : list of Event
    notes : dict
        Generator parameters worth keeping in the sidecar (per code).
    """

    entropy: int
    sfreq_hz: float
    n_times: int
    subject: Subject
    epoch_states: tuple[str, ...]
    eyes_open_s: tuple[tuple[float, float], ...] = ()
    cortical: np.ndarray = field(init=False)
    extracerebral: np.ndarray = field(init=False)
    findings: list[Finding] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    notes: dict[str, dict] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.cortical = np.zeros((len(SITES), self.n_times))
        self.extracerebral = np.zeros((len(SITES), self.n_times))

    # -- time ----------------------------------------------------------------------------------------
    @property
    def duration_s(self) -> float:
        return self.n_times / self.sfreq_hz

    @property
    def t_s(self) -> np.ndarray:
        """Sample times (n_times,) in seconds."""
        return np.arange(self.n_times) / self.sfreq_hz

    def stream(self, name: str) -> np.random.Generator:
        """An independent random stream for ``name``, fixed by the seed (see :func:`stream`)."""
        return stream(self.entropy, name)

    # -- states and gates ------------------------------------------------------------------------------
    def state_spans(self, states: Sequence[str] | str) -> list[tuple[float, float]]:
        """Time spans (merged) of the epochs whose state is in ``states``."""
        wanted = {states} if isinstance(states, str) else set(states)
        spans: list[tuple[float, float]] = []
        for i, state in enumerate(self.epoch_states):
            if state not in wanted:
                continue
            start, end = i * EPOCH_S, min((i + 1) * EPOCH_S, self.duration_s)
            if spans and abs(spans[-1][1] - start) < 1e-9:
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((start, end))
        return spans

    def state_gate(self, states: Sequence[str] | str, ramp_s: float = 4.0) -> np.ndarray:
        """Float (n_times,) 1 inside epochs of ``states``, 0 elsewhere, ramping over ``ramp_s``."""
        spans = self.state_spans(states)
        if not spans:
            return np.zeros(self.n_times)
        if len(spans) == 1 and spans[0][0] == 0 and spans[0][1] >= self.duration_s - 1e-9:
            return np.ones(self.n_times)
        return smooth_gate(spans_mask(self.n_times, self.sfreq_hz, spans), self.sfreq_hz, ramp_s)

    def eyes_open_mask(self) -> np.ndarray:
        """Bool (n_times,): eyes open."""
        return spans_mask(self.n_times, self.sfreq_hz, self.eyes_open_s)

    # -- painting ------------------------------------------------------------------------------------
    def add_cortical(self, weights: np.ndarray, wave_uv: np.ndarray) -> None:
        """Add a source: ``weights`` (21,) or (21, n) times ``wave_uv`` (n,)."""
        self.cortical += weights[:, None] * wave_uv[None, :] if weights.ndim == 1 else weights * wave_uv

    def add_extracerebral(self, weights: np.ndarray, wave_uv: np.ndarray) -> None:
        """Add an extracerebral source (not affected by cortical asymmetry)."""
        self.extracerebral += weights[:, None] * wave_uv[None, :] if weights.ndim == 1 else weights * wave_uv

    # -- truth ------------------------------------------------------------------------------------------
    def evidence(
        self, spans_s: Sequence[tuple[float, float]], channels: Sequence[str]
    ) -> tuple[Evidence, ...]:
        """Evidence for spans clipped to the recording (spans that fall outside are dropped)."""
        out = []
        for start, end in spans_s:
            start, end = max(0.0, float(start)), min(self.duration_s, float(end))
            if end - start > 1e-6:
                out.append(Evidence(round(start, 3), round(end, 3), tuple(channels)))
        return tuple(out)

    def record(self, finding: Finding, **notes: object) -> None:
        """Add a finding to the truth (only if it has evidence: a finding must show somewhere)."""
        if finding.evidence:
            self.findings.append(finding)
            if notes:
                self.notes.setdefault(finding.code, {}).update(
                    {k: (round(v, 4) if isinstance(v, float) else v) for k, v in notes.items()}
                )

    def event(self, onset_s: float, duration_s: float, description: str) -> None:
        self.events.append(Event(round(float(onset_s), 3), round(float(duration_s), 3), description))

    def scalp(self) -> np.ndarray:
        """Potentials (19, n) of the recorded electrodes against linked ears (A1 + A2) / 2."""
        total = self.cortical + self.extracerebral
        reference = total[N_SCALP:].mean(axis=0)
        return total[:N_SCALP] - reference
