"""The findings schema: the contract between models, report text, evaluation and the report document.

A :class:`Finding` is one electrographic observation in the ACNS 2021 / SCORE vocabulary
(DESIGN.md, "Findings vocabulary"); :class:`Findings` is what one recording's report asserts: the
findings judged present, the dominant state with its 30-s timeline, and the impression. Both
round-trip through JSON (``to_dict`` / ``from_dict``) and validate on construction, so an unknown code
or an impossible attribute (a side on a generalized pattern, a PDR without a frequency) is an error
where it is made, not a surprise downstream.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from neuronarrator.io.channels import CANONICAL_19


class FindingsError(ValueError):
    """A finding or a findings document that breaks the schema."""


#: Every finding code, with its meaning (ACNS 2021 / SCORE term).
CODES: dict[str, str] = {
    "pdr": "posterior dominant rhythm present",
    "pdr_reactive": "posterior dominant rhythm attenuates with eye opening",
    "generalized_slowing": "diffuse theta/delta slowing of the background",
    "focal_slowing": "focal or lateralized polymorphic slowing",
    "asymmetry": "amplitude asymmetry (side = the lower side)",
    "excess_beta": "diffuse excess beta activity",
    "burst_suppression": "burst-suppression pattern",
    "generalized_spike_wave": "generalized spike-and-wave discharges",
    "focal_epileptiform": "focal spikes or sharp waves",
    "lpd": "lateralized periodic discharges",
    "gpd": "generalized periodic discharges",
    "lrda": "lateralized rhythmic delta activity",
    "grda": "generalized rhythmic delta activity",
    "seizure": "electrographic seizure",
    "sleep_spindles": "sleep spindles",
    "vertex_waves": "vertex waves",
    "k_complexes": "K-complexes",
    "eye_blink_artifact": "eye blink artifact",
    "eye_movement_artifact": "eye movement artifact",
    "muscle_artifact": "muscle artifact",
    "electrode_artifact": "electrode artifact",
    "ecg_artifact": "ECG artifact",
    "line_noise": "line-noise (mains) artifact",
}

ARTIFACT_CODES = frozenset(
    {"eye_blink_artifact", "eye_movement_artifact", "muscle_artifact", "electrode_artifact", "ecg_artifact", "line_noise"}
)
NORMAL_SLEEP_CODES = frozenset({"sleep_spindles", "vertex_waves", "k_complexes"})
#: Findings that are normal features of a record (they never make it abnormal).
NORMAL_CODES = frozenset({"pdr", "pdr_reactive"}) | NORMAL_SLEEP_CODES | ARTIFACT_CODES
ABNORMAL_CODES = frozenset(CODES) - NORMAL_CODES
EPILEPTIFORM_CODES = frozenset({"generalized_spike_wave", "focal_epileptiform", "lpd", "gpd", "seizure"})

SIDES = ("left", "right", "bilateral", "midline", "generalized")
REGIONS = ("frontal", "central", "temporal", "parietal", "occipital")
STATES = ("awake", "drowsy", "n1", "n2", "n3", "rem")
IMPRESSIONS = ("normal", "abnormal")

#: Codes whose location is part of the finding: they need a side.
LATERALIZED_CODES = frozenset({"focal_slowing", "asymmetry", "focal_epileptiform", "lpd", "lrda"})
#: Codes that are generalized by definition: a side, if given, must be ``generalized`` (or bilateral).
GENERALIZED_CODES = frozenset({"generalized_slowing", "generalized_spike_wave", "gpd", "grda", "burst_suppression"})
#: Codes that require ``frequency_hz``.
FREQUENCY_REQUIRED = frozenset({"pdr"})
#: Plausible frequency range per code, Hz (ACNS: rhythms 0.5-30 Hz; a PDR below 4 Hz is not a PDR).
FREQUENCY_RANGE_HZ: dict[str, tuple[float, float]] = {
    "pdr": (4.0, 14.0),
    "generalized_spike_wave": (1.0, 6.0),
    "lpd": (0.1, 4.0),
    "gpd": (0.1, 4.0),
    "lrda": (0.5, 4.0),
    "grda": (0.5, 4.0),
    "sleep_spindles": (10.0, 16.0),
    "excess_beta": (13.0, 35.0),
    "seizure": (0.5, 30.0),
    "focal_slowing": (0.5, 8.0),
    "generalized_slowing": (0.5, 8.0),
    "line_noise": (45.0, 65.0),
}


@dataclass(frozen=True)
class Evidence:
    """Where a finding shows: a time span (seconds from the recording's start) and its channels."""

    start_s: float
    end_s: float
    channels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not (self.start_s >= 0 and self.end_s > self.start_s):
            raise FindingsError(f"evidence span must have 0 <= start_s < end_s, got {self.start_s}..{self.end_s}")
        object.__setattr__(self, "channels", tuple(self.channels))

    def to_dict(self) -> dict[str, Any]:
        return {"start_s": float(self.start_s), "end_s": float(self.end_s), "channels": list(self.channels)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Evidence:
        return cls(float(data["start_s"]), float(data["end_s"]), tuple(data.get("channels", ())))


@dataclass(frozen=True)
class Finding:
    """One finding (DESIGN.md, "Findings vocabulary")."""

    code: str
    probability: float = 1.0
    side: str | None = None
    regions: tuple[str, ...] = ()
    frequency_hz: float | None = None
    channels: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "regions", tuple(self.regions))
        object.__setattr__(self, "channels", tuple(self.channels))
        object.__setattr__(self, "evidence", tuple(self.evidence))
        _validate(self)

    @property
    def is_abnormal(self) -> bool:
        return self.code in ABNORMAL_CODES

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; optional attributes that are unset are left out."""
        out: dict[str, Any] = {"code": self.code, "probability": round(float(self.probability), 4)}
        if self.side is not None:
            out["side"] = self.side
        if self.regions:
            out["regions"] = list(self.regions)
        if self.frequency_hz is not None:
            out["frequency_hz"] = round(float(self.frequency_hz), 2)
        if self.channels:
            out["channels"] = list(self.channels)
        out["evidence"] = [e.to_dict() for e in self.evidence]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        unknown = set(data) - {"code", "probability", "side", "regions", "frequency_hz", "channels", "evidence"}
        if unknown:
            raise FindingsError(f"finding {data.get('code')!r} has unknown fields {sorted(unknown)}")
        if "code" not in data:
            raise FindingsError(f"finding without a code: {data}")
        return cls(
            code=data["code"],
            probability=float(data.get("probability", 1.0)),
            side=data.get("side"),
            regions=tuple(data.get("regions", ())),
            frequency_hz=None if data.get("frequency_hz") is None else float(data["frequency_hz"]),
            channels=tuple(data.get("channels", ())),
            evidence=tuple(Evidence.from_dict(e) for e in data.get("evidence", ())),
        )

    def with_(self, **changes: Any) -> Finding:
        """A copy with some attributes changed (validated again)."""
        return replace(self, **changes)


def _validate(f: Finding) -> None:
    if f.code not in CODES:
        raise FindingsError(f"unknown finding code {f.code!r}; known codes: {', '.join(CODES)}")
    if not 0.0 <= f.probability <= 1.0:
        raise FindingsError(f"{f.code}: probability must be in [0, 1], got {f.probability}")
    if f.side is not None and f.side not in SIDES:
        raise FindingsError(f"{f.code}: side must be one of {SIDES}, got {f.side!r}")
    if f.code in GENERALIZED_CODES and f.side not in (None, "generalized", "bilateral"):
        raise FindingsError(f"{f.code} is generalized by definition; side {f.side!r} is impossible")
    if f.code in LATERALIZED_CODES and f.side in (None, "generalized"):
        raise FindingsError(f"{f.code} needs a side (left, right, bilateral or midline), got {f.side!r}")
    bad_regions = [r for r in f.regions if r not in REGIONS]
    if bad_regions:
        raise FindingsError(f"{f.code}: unknown regions {bad_regions}; known: {REGIONS}")
    if len(set(f.regions)) != len(f.regions):
        raise FindingsError(f"{f.code}: repeated regions {f.regions}")
    if f.code in FREQUENCY_REQUIRED and f.frequency_hz is None:
        raise FindingsError(f"{f.code} needs frequency_hz")
    if f.frequency_hz is not None:
        low, high = FREQUENCY_RANGE_HZ.get(f.code, (0.1, 100.0))
        if not low <= f.frequency_hz <= high:
            raise FindingsError(f"{f.code}: frequency {f.frequency_hz} Hz outside the plausible {low}-{high} Hz")
    bad_channels = [c for c in f.channels if c not in CANONICAL_19]
    if bad_channels:
        raise FindingsError(f"{f.code}: channels {bad_channels} are not in the 10-20 set {CANONICAL_19}")


@dataclass(frozen=True)
class StateSpan:
    """The state scored for one span of the recording (30-s epochs in the timeline)."""

    start_s: float
    end_s: float
    state: str

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise FindingsError(f"unknown state {self.state!r}; known: {STATES}")
        if not (self.start_s >= 0 and self.end_s > self.start_s):
            raise FindingsError(f"state span must have 0 <= start_s < end_s, got {self.start_s}..{self.end_s}")

    def to_dict(self) -> dict[str, Any]:
        return {"start_s": float(self.start_s), "end_s": float(self.end_s), "state": self.state}


@dataclass(frozen=True)
class Findings:
    """What a report asserts about one recording: findings present, state, impression."""

    findings: tuple[Finding, ...] = ()
    state: str = "awake"
    state_timeline: tuple[StateSpan, ...] = ()
    impression: str | None = None  # None: derived from the findings
    extras: dict[str, Any] = field(default_factory=dict, compare=False)  # e.g. {"age_years": 54}

    def __post_init__(self) -> None:
        object.__setattr__(self, "findings", tuple(self.findings))
        object.__setattr__(self, "state_timeline", tuple(self.state_timeline))
        if self.state not in STATES:
            raise FindingsError(f"unknown state {self.state!r}; known: {STATES}")
        if self.impression is None:
            object.__setattr__(self, "impression", derive_impression(self.findings))
        if self.impression not in IMPRESSIONS:
            raise FindingsError(f"impression must be one of {IMPRESSIONS}, got {self.impression!r}")
        codes = [f.code for f in self.findings]
        repeated = {c for c in codes if codes.count(c) > 1 and c not in LATERALIZED_CODES | {"seizure"}}
        if repeated:
            raise FindingsError(f"codes listed more than once: {sorted(repeated)}")
        if "pdr_reactive" in codes and "pdr" not in codes:
            raise FindingsError("pdr_reactive without pdr: reactivity is a property of a present PDR")

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(f.code for f in self.findings)

    def get(self, code: str) -> Finding | None:
        """The first finding with this code, or None."""
        return next((f for f in self.findings if f.code == code), None)

    def to_dict(self) -> dict[str, Any]:
        """The findings part of the report document (DESIGN.md)."""
        return {
            "state": self.state,
            "state_timeline": [s.to_dict() for s in self.state_timeline],
            "impression": self.impression,
            "findings": [f.to_dict() for f in self.findings],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Findings:
        return cls(
            findings=tuple(Finding.from_dict(f) for f in data.get("findings", ())),
            state=data.get("state", "awake"),
            state_timeline=tuple(StateSpan(float(s["start_s"]), float(s["end_s"]), s["state"]) for s in data.get("state_timeline", ())),
            impression=data.get("impression"),
        )


def derive_impression(findings: tuple[Finding, ...] | list[Finding]) -> str:
    """``abnormal`` if any finding is abnormal (artifacts and normal sleep transients never are)."""
    return "abnormal" if any(f.is_abnormal for f in findings) else "normal"


# --- Certainty: how report text carries a probability -------------------------------------------------
# Text has no numbers for belief, only hedges. The renderer writes a finding's certainty class with the
# words neurologists use, and the labeler reads the class back as its representative probability.
CERTAINTY_PROBABILITY = {"definite": 1.0, "probable": 0.75, "possible": 0.5}


def certainty(probability: float) -> str:
    """Certainty class of a probability: ``definite`` (≥ 0.875), ``probable`` (≥ 0.625), else ``possible``."""
    if probability >= 0.875:
        return "definite"
    return "probable" if probability >= 0.625 else "possible"


def finding_key(f: Finding) -> tuple:
    """What report text must carry of a finding, as a hashable key: code, side, regions, certainty, and
    the frequency rounded to 0.5 Hz where the code requires one (the PDR)."""
    frequency = round(f.frequency_hz * 2) / 2 if f.code in FREQUENCY_REQUIRED and f.frequency_hz else None
    # A generalized pattern's side (None, "generalized", "bilateral") is not something text distinguishes.
    side = None if f.code in GENERALIZED_CODES else f.side
    return (f.code, side, frozenset(f.regions), certainty(f.probability), frequency)


def findings_key(doc: Findings) -> tuple:
    """Key of a whole findings document (state, impression and the set of finding keys): two documents
    that report text cannot tell apart have the same key."""
    return (doc.state, doc.impression, frozenset(finding_key(f) for f in doc.findings))
