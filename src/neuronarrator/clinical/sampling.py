"""Random, clinically coherent finding sets: the inputs of the round-trip test and of synthetic corpora.

:func:`random_findings` draws one recording's :class:`~neuronarrator.clinical.findings.Findings` from a
mix of scenarios (:data:`SCENARIOS`: normal wake, normal sleep, focal and generalized slowing,
epileptiform discharges, periodic and rhythmic patterns, seizures, burst suppression, excess beta,
asymmetry, combinations), then adds artifacts. Sets obey the schema's rules and clinical sense:

- a posterior dominant rhythm (adult, 7-12 Hz; below 8 Hz only with generalized slowing) only where the
  dominant state is wake or drowsiness, never with burst suppression;
- sleep transients only where the timeline has the states that carry them (spindles and K-complexes in
  N2/N3, vertex waves in drowsiness, N1 or N2);
- lateralized codes get a side and adjacent regions; generalized codes get neither side nor regions
  (their location is their code); the same lateralized code twice only at two locations;
- certainty mostly definite, some probable and possible, for abnormal findings only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from neuronarrator.clinical.findings import (
    ABNORMAL_CODES,
    LATERALIZED_CODES,
    Evidence,
    Finding,
    Findings,
    StateSpan,
)

_STATE_ORDER = ("awake", "drowsy", "n1", "n2", "n3", "rem")
#: Adjacent region sets a focal finding covers (one region or two neighbours).
_REGION_SETS = (
    ("temporal",), ("temporal",), ("temporal",), ("frontal",), ("central",), ("parietal",), ("occipital",),
    ("frontal", "temporal"), ("frontal", "temporal"), ("temporal", "parietal"), ("central", "temporal"),
    ("frontal", "central"), ("central", "parietal"), ("parietal", "occipital"), ("temporal", "occipital"),
)  # fmt: skip
_MIDLINE_REGIONS = (("central",), ("frontal",), ("parietal",))
_CHANNELS = {
    ("left", "frontal"): ("Fp1", "F3", "F7"), ("left", "central"): ("C3",), ("left", "temporal"): ("F7", "T7", "P7"),
    ("left", "parietal"): ("P3", "P7"), ("left", "occipital"): ("O1",),
    ("right", "frontal"): ("Fp2", "F4", "F8"), ("right", "central"): ("C4",), ("right", "temporal"): ("F8", "T8", "P8"),
    ("right", "parietal"): ("P4", "P8"), ("right", "occipital"): ("O2",),
    ("midline", "frontal"): ("Fz",), ("midline", "central"): ("Cz",), ("midline", "parietal"): ("Pz",),
}  # fmt: skip
_LEFT = ("Fp1", "F7", "F3", "T7", "C3", "P7", "P3", "O1")
_RIGHT = ("Fp2", "F8", "F4", "T8", "C4", "P8", "P4", "O2")
_GENERALIZED = (*_LEFT, "Fz", "Cz", "Pz", *_RIGHT)
#: Where the normal findings show.
_NORMAL_CHANNELS = {
    "pdr": ("O1", "O2", "P3", "P4"), "pdr_reactive": ("O1", "O2"), "sleep_spindles": ("C3", "Cz", "C4"),
    "vertex_waves": ("Cz",), "k_complexes": ("Fz", "Cz"), "eye_blink_artifact": ("Fp1", "Fp2"),
    "eye_movement_artifact": ("F7", "F8"), "muscle_artifact": ("T7", "T8"), "ecg_artifact": _GENERALIZED,
    "line_noise": _GENERALIZED,
}  # fmt: skip
_SPAN_S = {"seizure": (30.0, 180.0), "burst_suppression": (60.0, 300.0), "pdr": (20.0, 60.0)}


class _Builder:
    """A finding set under construction, with the draws the scenarios share."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.duration_s = 30.0 * int(rng.integers(20, 61))  # 10-30 min, whole 30-s epochs
        self.findings: list[Finding] = []
        self.state = "awake"
        self.timeline: list[StateSpan] = []

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def pick(self, seq: tuple | list):
        return seq[int(self.rng.integers(len(seq)))]

    def uniform(self, low: float, high: float) -> float:
        return float(self.rng.uniform(low, high))

    @property
    def states(self) -> set[str]:
        return {s.state for s in self.timeline} | {self.state}

    def set_states(self, dominant: str, others: list[str] = ()) -> None:
        """Dominant state plus others, as contiguous 30-s epochs in sleep order; dominant has the most."""
        others = [s for s in dict.fromkeys(others) if s != dominant]
        n_epochs = int(self.duration_s // 30)
        counts = {dominant: n_epochs}
        if others:
            share = int(n_epochs * self.uniform(0.55, 0.85))
            rest = n_epochs - share
            weights = self.rng.dirichlet(np.ones(len(others)))
            split = [max(1, int(rest * w)) for w in weights]
            counts = {dominant: n_epochs - sum(split), **dict(zip(others, split, strict=True))}
        self.state = dominant
        self.timeline, t = [], 0.0
        for state in _STATE_ORDER:
            for _ in range(counts.get(state, 0)):
                self.timeline.append(StateSpan(t, t + 30.0, state))
                t += 30.0

    def probability(self, code: str) -> float:
        if code not in ABNORMAL_CODES:
            return round(self.uniform(0.9, 1.0), 3)
        u = self.rng.random()
        low, high = (0.9, 1.0) if u < 0.8 else (0.66, 0.84) if u < 0.92 else (0.4, 0.6)
        return round(self.uniform(low, high), 3)

    def location(self, sides: tuple[str, ...] = ("left", "right")) -> tuple[str, tuple[str, ...]]:
        side = self.pick(sides)
        if side == "midline":
            return side, self.pick(_MIDLINE_REGIONS)
        if side in ("left", "right") and self.chance(0.07):
            return side, ()  # hemispheric
        return side, self.pick(_REGION_SETS)

    def channels(self, code: str, side: str | None, regions: tuple[str, ...]) -> tuple[str, ...]:
        if code in _NORMAL_CHANNELS:
            return _NORMAL_CHANNELS[code]
        if code == "electrode_artifact":
            return (self.pick(_GENERALIZED),)
        sides = {
            "left": ("left",),
            "right": ("right",),
            "bilateral": ("left", "right"),
            "midline": ("midline",),
        }
        if side not in sides:
            return _GENERALIZED
        if not regions:
            return {"left": _LEFT, "right": _RIGHT}.get(side, _GENERALIZED)
        return tuple(
            dict.fromkeys(ch for s in sides[side] for r in regions for ch in _CHANNELS.get((s, r), ()))
        )

    def add(self, code: str, side: str | None = None, regions: tuple[str, ...] = (), hz: float | None = None,
            n_spans: int | None = None) -> None:  # fmt: skip
        """Add a finding, with evidence spans inside the recording.

        A code is listed once, except that a lateralized code may recur at a separate location: another
        side, or disjoint regions on the same side (a neurologist writes "left frontal and left
        hemispheric sharp waves" as one finding, not two).
        """
        for f in self.findings:
            separate = f.side != side or bool(f.regions and regions and not set(f.regions) & set(regions))
            if f.code == code and (code not in LATERALIZED_CODES or not separate):
                return
        channels = self.channels(code, side, regions)
        n_spans = int(self.rng.integers(0, 12)) if n_spans is None else n_spans
        low, high = _SPAN_S.get(code, (1.0, 10.0))
        spans = []
        for _ in range(n_spans):
            length = self.uniform(low, high)
            start = self.uniform(0.0, self.duration_s - length)
            spans.append(Evidence(round(start, 2), round(start + length, 2), channels))
        spans.sort(key=lambda e: e.start_s)
        hz = None if hz is None else round(hz, 2)
        self.findings.append(Finding(code, self.probability(code), side, regions, hz, channels, tuple(spans)))

    # --- pieces the scenarios combine ------------------------------------------------------------------
    def pdr(self, low: float = 8.5, high: float = 11.5, p_reactive: float = 0.8) -> None:
        self.add("pdr", hz=self.uniform(low, high), n_spans=1)
        if self.chance(p_reactive):
            self.add("pdr_reactive", n_spans=1)

    def wake(self, p_drowsy: float = 0.5, p_sleep: float = 0.15) -> None:
        others = (["drowsy"] if self.chance(p_drowsy) else []) + (
            ["n1", "n2"] if self.chance(p_sleep) else []
        )
        self.set_states("awake", others)

    def transients(self) -> None:
        states = self.states
        if {"n2", "n3"} & states and self.chance(0.85):
            self.add("sleep_spindles", hz=self.uniform(11.0, 15.0) if self.chance(0.3) else None)
        if {"n2", "n3"} & states and self.chance(0.5):
            self.add("k_complexes")
        if {"drowsy", "n1", "n2"} & states and self.chance(0.45):
            self.add("vertex_waves")

    def slow_hz(self, low: float = 1.0, high: float = 7.5) -> float | None:
        return self.uniform(low, high) if self.chance(0.5) else None

    def focal(self, code: str, sides: tuple[str, ...] = ("left", "right"), hz: float | None = None) -> tuple:
        side, regions = self.location(sides)
        self.add(code, side, regions, hz)
        return side, regions


# --- scenarios -----------------------------------------------------------------------------------------
def _normal_awake(b: _Builder) -> None:
    b.wake()
    b.pdr()
    b.transients()


def _normal_sleep(b: _Builder) -> None:
    dominant = b.pick(("awake", "awake", "awake", "drowsy", "n1", "n2", "n2", "n2", "n2", "n3", "rem"))
    others = {"awake": ["drowsy", "n1", "n2"], "drowsy": ["awake", "n1", "n2"], "n1": ["drowsy", "n2"],
              "n2": ["awake", "drowsy", "n1", "n3"], "n3": ["n2"], "rem": ["n2"]}[dominant]  # fmt: skip
    b.set_states(dominant, [s for s in others if b.chance(0.6)] or others[-1:])
    if dominant == "awake" or (dominant == "drowsy" and b.chance(0.7)):
        b.pdr()
    b.transients()


def _focal_slowing(b: _Builder) -> None:
    b.wake(p_sleep=0.1)
    if b.chance(0.85):
        b.pdr(8.0, 11.0, 0.7)
    side, regions = b.focal("focal_slowing", hz=b.slow_hz())
    if b.chance(0.2):
        b.focal("focal_slowing", hz=b.slow_hz())
    if b.chance(0.15) and side in ("left", "right"):
        b.add("asymmetry", side, () if b.chance(0.6) else regions)
    if b.chance(0.2):
        b.add("focal_epileptiform", side, regions)
    b.transients()


def _generalized_slowing(b: _Builder) -> None:
    b.wake(p_sleep=0.05)
    u = b.rng.random()
    if u < 0.4:
        b.pdr(7.0, 8.4, 0.5)
    elif u < 0.7:
        b.pdr(8.0, 10.0, 0.6)
    b.add("generalized_slowing", hz=b.slow_hz(2.0, 7.5))
    if b.chance(0.2):
        b.add("grda", hz=b.slow_hz(1.0, 3.0))
    if b.chance(0.1):
        b.add("excess_beta")
    if b.chance(0.05):
        b.add("gpd", hz=b.slow_hz(0.5, 2.5))
    b.transients()


def _focal_epileptiform(b: _Builder) -> None:
    b.wake(p_sleep=0.4)
    b.pdr(8.0, 11.5, 0.75)
    side, regions = b.focal(
        "focal_epileptiform", ("left",) * 8 + ("right",) * 8 + ("bilateral",) * 2 + ("midline",)
    )
    if b.chance(0.15):
        b.focal("focal_epileptiform")
    if b.chance(0.25) and side in ("left", "right"):
        b.add("focal_slowing", side, regions, b.slow_hz())
    b.transients()


def _generalized_spike_wave(b: _Builder) -> None:
    b.wake(p_sleep=0.3)
    if b.chance(0.8):
        b.pdr(8.5, 11.5)
    b.add("generalized_spike_wave", hz=b.uniform(2.5, 4.0) if b.chance(0.7) else None)
    b.transients()


def _periodic(b: _Builder) -> None:
    b.wake(p_drowsy=0.3, p_sleep=0.0)
    slowing = b.chance(0.5)
    if b.chance(0.3):
        b.pdr(7.0, 9.5, 0.4) if slowing else b.pdr(8.0, 10.0, 0.4)
    if slowing:
        b.add("generalized_slowing", hz=b.slow_hz(2.0, 7.0))
    kinds = ["lpd", "gpd", "lrda", "grda"]
    for j in b.rng.permutation(4)[: int(b.rng.integers(1, 3))]:
        code = kinds[j]
        if code in ("lpd", "lrda"):
            sides = ("left", "right") if code == "lrda" or b.chance(0.9) else ("bilateral",)
            side, regions = b.focal(
                code, sides, b.slow_hz(0.5, 2.5) if code == "lpd" else b.slow_hz(1.0, 3.0)
            )
            if b.chance(0.3) and side in ("left", "right"):
                b.add("focal_slowing", side, regions)
        else:
            b.add(code, hz=b.slow_hz(0.5, 2.5))


def _seizure(b: _Builder) -> None:
    b.wake(p_sleep=0.1)
    if b.chance(0.5):
        b.pdr(8.0, 11.0, 0.6)
    u = b.rng.random()
    side, regions = b.location() if u < 0.65 else ("generalized", ()) if u < 0.9 else (None, ())
    # Several seizures from one onset zone are one pattern with one certainty: a report that says "three
    # seizures" and hedges one of them is rare, and its hedge would not attach to one seizure in the text.
    probability = b.probability("seizure")
    for _ in range(int(b.rng.integers(1, 4))):
        b.findings.append(_seizure_finding(b, side, regions, b.slow_hz(2.0, 9.0), probability))
    if b.chance(0.4) and side in ("left", "right"):
        b.add(b.pick(("focal_epileptiform", "lpd", "focal_slowing")), side, regions)
    if side == "generalized" and b.chance(0.3):
        b.add("generalized_spike_wave", hz=b.uniform(2.5, 4.0) if b.chance(0.5) else None)


def _seizure_finding(
    b: _Builder, side: str | None, regions: tuple[str, ...], hz: float | None, probability: float
) -> Finding:
    length = b.uniform(30.0, 180.0)
    start = b.uniform(0.0, b.duration_s - length)
    channels = b.channels("seizure", side, regions)
    hz = None if hz is None else round(hz, 2)
    span = Evidence(round(start, 2), round(start + length, 2), channels)
    return Finding("seizure", probability, side, regions, hz, channels, (span,))


def _burst_suppression(b: _Builder) -> None:
    if b.chance(0.5):
        b.set_states("awake")
    b.add("burst_suppression", n_spans=int(b.rng.integers(0, 4)))


def _excess_beta(b: _Builder) -> None:
    if b.chance(0.25):
        b.set_states(b.pick(("n2", "drowsy")), ["awake", "n1"] if b.chance(0.5) else [])
        if b.state == "drowsy" and b.chance(0.5):
            b.pdr()
    else:
        b.wake()
        if b.chance(0.65):
            b.pdr()
    b.add("excess_beta", hz=b.uniform(15.0, 25.0) if b.chance(0.5) else None)
    b.transients()


def _asymmetry(b: _Builder) -> None:
    b.wake()
    b.pdr(8.0, 11.0)
    side, regions = b.location()
    b.add("asymmetry", side, () if b.chance(0.6) else regions)
    if b.chance(0.4):
        b.add("focal_slowing", side, regions, b.slow_hz())
    b.transients()


def _combination(b: _Builder) -> None:
    b.wake(p_sleep=0.2)
    if b.chance(0.7):
        b.pdr(8.0, 11.0, 0.7)
    adders: list[Callable[[], object]] = [
        lambda: b.focal("focal_slowing", hz=b.slow_hz()),
        lambda: b.focal("focal_epileptiform", ("left", "right", "bilateral", "midline")),
        lambda: b.add("generalized_slowing", hz=b.slow_hz(2.0, 7.5)),
        lambda: b.focal("lrda", hz=b.slow_hz(1.0, 3.0)),
        lambda: b.add("excess_beta"),
        lambda: b.add("generalized_spike_wave", hz=b.uniform(2.5, 4.0) if b.chance(0.5) else None),
        lambda: b.focal("asymmetry"),
        lambda: b.add("grda", hz=b.slow_hz(1.0, 3.0)),
    ]
    for j in b.rng.permutation(len(adders))[: int(b.rng.integers(2, 4))]:
        adders[j]()
    b.transients()


#: Scenario name -> (weight, builder). Weights sum to 1.
SCENARIOS: dict[str, tuple[float, Callable[[_Builder], None]]] = {
    "normal_awake": (0.17, _normal_awake),
    "normal_sleep": (0.13, _normal_sleep),
    "focal_slowing": (0.12, _focal_slowing),
    "generalized_slowing": (0.10, _generalized_slowing),
    "focal_epileptiform": (0.10, _focal_epileptiform),
    "generalized_spike_wave": (0.05, _generalized_spike_wave),
    "periodic": (0.08, _periodic),
    "seizure": (0.07, _seizure),
    "burst_suppression": (0.04, _burst_suppression),
    "excess_beta": (0.05, _excess_beta),
    "asymmetry": (0.03, _asymmetry),
    "combination": (0.06, _combination),
}
_ARTIFACTS = ("eye_blink_artifact", "eye_movement_artifact", "muscle_artifact", "electrode_artifact",
              "ecg_artifact", "line_noise")  # fmt: skip
_ARTIFACTS_UNRESPONSIVE = ("electrode_artifact", "ecg_artifact", "line_noise", "muscle_artifact")


def random_findings(rng: np.random.Generator | int | None = None, *, scenario: str | None = None) -> Findings:
    """Draw one clinically coherent finding set.

    Parameters
    ----------
    rng : numpy.random.Generator | int | None
        Source of randomness; the same seed gives the same set.
    scenario : str, optional
        One of :data:`SCENARIOS` to force; by default drawn by the scenario weights.

    Returns
    -------
    Findings
        Findings with evidence spans, the dominant state with a 30-s timeline (none, sometimes, for
        burst suppression) and the impression derived from the findings.
    """
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    names = list(SCENARIOS)
    if scenario is None:
        weights = np.array([SCENARIOS[n][0] for n in names])
        scenario = names[int(gen.choice(len(names), p=weights / weights.sum()))]
    b = _Builder(gen)
    SCENARIOS[scenario][1](b)
    if b.chance(0.55):
        pool = _ARTIFACTS_UNRESPONSIVE if scenario == "burst_suppression" else _ARTIFACTS
        for j in gen.permutation(len(pool))[: int(gen.integers(1, 4))]:
            code = pool[j]
            b.add(code, hz=b.pick((50.0, 60.0)) if code == "line_noise" and b.chance(0.6) else None)
    order = gen.permutation(len(b.findings))
    return Findings(
        findings=tuple(b.findings[j] for j in order), state=b.state, state_timeline=tuple(b.timeline)
    )
