"""Event labels (EDF+ annotations, BIDS events, TUEV/TUSZ/CHB-MIT event times) -> findings and states.

Two steps. :func:`read_annotation` reads one label text: location words ("left", "temporal", "T3") are
taken out with the report labeler's own location reader (:mod:`neuronarrator.clinical.location`), the
rest is looked up in the dataset tables of :mod:`neuronarrator.clinical.mappings` (SCORE/ACNS terms, TUEV
and TUSZ class names), and "Sleep stage X" gives a state. :func:`assemble` turns the resulting
:class:`Mark` s (a code, a place, a time span) into the schema's findings, each with its evidence.

Why some marks are set aside: a lateralized code (focal spikes, LPDs, LRDA, focal slowing, asymmetry)
is not a finding without a side, and an annotation such as "spike" does not say one; a PDR without a
frequency breaks the schema. Such marks are counted, and an abnormal one still makes the impression
abnormal (the record was marked abnormal; only the place is unknown).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from neuronarrator.clinical import mappings
from neuronarrator.clinical.findings import (
    ABNORMAL_CODES,
    FREQUENCY_REQUIRED,
    GENERALIZED_CODES,
    LATERALIZED_CODES,
    Evidence,
    Finding,
    Findings,
    FindingsError,
    StateSpan,
    derive_impression,
)
from neuronarrator.clinical.location import combine_sides, find_tokens, group_phrases, merge_locations
from neuronarrator.corpus.sources.common import Labels
from neuronarrator.io.channels import CANONICAL_19
from neuronarrator.io.recording import Event

#: A point annotation (zero duration: a spike marker) is given this much evidence around its onset.
POINT_EVENT_S = 1.0
#: Sleep stages are scored per 30-s epoch (R&K 1968, AASM 2007).
EPOCH_S = 30.0
_SLEEP_STAGE = re.compile(r"^\s*sleep\s+stage\s+(\S+)\s*$", re.I)
_FREQUENCY = re.compile(r"(\d+(?:\.\d+)?)\s*hz\b", re.I)
_NOISE = re.compile(r"[\s,;:/()\[\]]+")


@dataclass(frozen=True)
class Mark:
    """One labelled event: a code, where (side, regions, 10-20 channels) and when (seconds)."""

    code: str
    start_s: float
    end_s: float
    side: str | None = None
    regions: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    frequency_hz: float | None = None


@dataclass
class Reading:
    """What a list of annotations said: marks, state spans, and counts of what was not used."""

    marks: list[Mark] = field(default_factory=list)
    states: list[tuple[float, float, str]] = field(default_factory=list)
    mapped: Counter = field(default_factory=Counter)  # label text -> count, mapped to a code or a state
    known_none: Counter = field(default_factory=Counter)  # known labels with no code (background, BCKG)
    unmapped: Counter = field(default_factory=Counter)  # label texts nobody mapped (ignored)

    def counts(self) -> dict[str, dict[str, int]]:
        return {
            "mapped": dict(self.mapped),
            "known_none": dict(self.known_none),
            "unmapped": dict(self.unmapped),
        }


def _lookup(name: str) -> tuple[bool, mappings.Mapped | None]:
    """``(known, mapped)`` for a label without its location words; tables tried in order."""
    if not name:
        return False, None
    try:
        return True, mappings.from_score(name)
    except FindingsError:
        pass
    if not name.isdigit():  # TUEV class ids (1-6) are only meaningful inside a .rec file
        try:
            code = mappings.from_tuev(name)
            return True, None if code is None else mappings.Mapped(code)
        except FindingsError:
            pass
    try:
        return True, mappings.from_tusz(name)
    except FindingsError:
        return False, None


def read_annotation(
    text: str,
) -> tuple[bool, mappings.Mapped | None, str | None, tuple[str, ...], tuple[str, ...], float | None]:
    """Read one label text: ``(known, mapped, side, regions, channels, frequency_hz)``.

    ``known`` False: nobody mapped this text. Location words and a frequency are read from the text and
    removed before the lookup ("LPDs right temporal", "spike T3", "PDR 9 Hz").
    """
    tokens = find_tokens(text)
    location = merge_locations(group_phrases(text, tokens))
    frequency = _FREQUENCY.search(text)
    rest = text
    spans = [(t.start, t.end) for t in tokens] + ([frequency.span()] if frequency else [])
    for start, end in sorted(spans, reverse=True):
        rest = rest[:start] + " " + rest[end:]
    name = _NOISE.sub(" ", rest).strip(" -").lower()
    known, mapped = _lookup(name)
    if not known:  # the location reader may have eaten part of a term ("generalized spike-and-wave")
        known, mapped = _lookup(_NOISE.sub(" ", text).strip().lower())
        if known:
            location = None
    side = location.side if location else None
    regions = location.regions if location else ()
    channels = tuple(c for c in (location.channels if location else ()) if c in CANONICAL_19)
    return known, mapped, side, regions, channels, float(frequency.group(1)) if frequency else None


def read_events(events: Iterable[Event], duration_s: float) -> Reading:
    """Marks and sleep-stage spans from a recording's annotations (times clipped to the recording)."""
    reading = Reading()
    for event in events:
        text = event.description.strip()
        start, end = event_span(event.onset_s, event.duration_s, duration_s)
        if end <= start:
            continue
        stage = _SLEEP_STAGE.match(text)
        if stage:
            try:
                state = mappings.from_sleep_edf(stage.group(1))
            except FindingsError:
                reading.unmapped[text] += 1
                continue
            if state is None:
                reading.known_none[text] += 1
            else:
                reading.states.append((start, end, state))
                reading.mapped[text] += 1
            continue
        known, mapped, side, regions, channels, frequency = read_annotation(text)
        if not known:
            reading.unmapped[text] += 1
        elif mapped is None:
            reading.known_none[text] += 1
        else:
            reading.mapped[text] += 1
            reading.marks.append(
                Mark(
                    mapped.code,
                    start,
                    end,
                    mapped.side or side,
                    mapped.regions or regions,
                    channels,
                    frequency,
                )
            )
    return reading


def event_span(onset_s: float, duration_s: float, record_s: float) -> tuple[float, float]:
    """An event's span clipped to ``[0, record_s]``; a point event widened to :data:`POINT_EVENT_S`."""
    if duration_s <= 0:
        onset_s, duration_s = onset_s - POINT_EVENT_S / 2, POINT_EVENT_S
    return max(0.0, onset_s), min(record_s, onset_s + duration_s)


def _side_for(code: str, side: str | None) -> str | None:
    if code in GENERALIZED_CODES:
        return None  # the code says it; the labeler reads these without a side too
    return side


def assemble(marks: Iterable[Mark]) -> tuple[list[Finding], Counter]:
    """Findings from marks, and a count of the marks set aside (module docstring) by reason.

    Seizures stay one finding each (the renderer counts them); marks of a lateralized code are grouped by
    (code, side, regions); any other code makes one finding whose evidence lists every mark.
    """
    set_aside: Counter = Counter()
    groups: dict[tuple, list[Mark]] = defaultdict(list)
    order: list[tuple] = []
    for i, m in enumerate(sorted(marks, key=lambda m: (m.start_s, m.end_s, m.code))):
        if m.code in LATERALIZED_CODES and m.side in (None, "generalized"):
            set_aside[f"{m.code}: no side"] += 1
            continue
        if m.code in FREQUENCY_REQUIRED and m.frequency_hz is None:
            set_aside[f"{m.code}: no frequency"] += 1
            continue
        if m.code == "seizure":
            key: tuple = ("seizure", i)
        elif m.code in LATERALIZED_CODES:
            key = (m.code, m.side, tuple(sorted(m.regions)))
        else:
            key = (m.code,)
        if key not in groups:
            order.append(key)
        groups[key].append(m)
    findings = []
    for key in order:
        group = groups[key]
        code = group[0].code
        sides = {m.side for m in group if m.side}
        regions = tuple(dict.fromkeys(r for m in group for r in m.regions))
        channels = tuple(c for c in CANONICAL_19 if any(c in m.channels for m in group))
        frequencies = [m.frequency_hz for m in group if m.frequency_hz is not None]
        evidence = tuple(Evidence(m.start_s, m.end_s, m.channels) for m in group)
        try:
            findings.append(Finding(
                code, side=_side_for(code, combine_sides(sides)), regions=regions, channels=channels,
                frequency_hz=frequencies[0] if frequencies else None, evidence=evidence,
            ))  # fmt: skip
        except FindingsError as error:  # e.g. a frequency outside the code's plausible range
            set_aside[f"{code}: {error}"] += len(group)
    if "pdr_reactive" in {f.code for f in findings} and "pdr" not in {f.code for f in findings}:
        findings = [f for f in findings if f.code != "pdr_reactive"]
        set_aside["pdr_reactive: no pdr"] += 1
    return findings, set_aside


def abnormal_set_aside(set_aside: Counter) -> bool:
    """Whether an abnormal code was among the marks set aside (the record is abnormal all the same)."""
    return any(reason.split(":")[0] in ABNORMAL_CODES for reason in set_aside)


def state_timeline(
    spans: Iterable[tuple[float, float, str]], duration_s: float
) -> tuple[list[StateSpan], str | None]:
    """Per-30-s-epoch states of the recording, and the dominant state (None without any span).

    An epoch takes the state of the span covering its midpoint; epochs no span covers are left out.
    The dominant state is the most frequent one (ties: the earliest in the record).
    """
    spans = sorted(spans)
    timeline: list[StateSpan] = []
    n_epochs = int(-(-duration_s // EPOCH_S))
    for i in range(n_epochs):
        start, end = i * EPOCH_S, min((i + 1) * EPOCH_S, duration_s)
        mid = (start + end) / 2
        state = next((s for a, b, s in spans if a <= mid < b), None)
        if state is not None:
            timeline.append(StateSpan(start, end, state))
    if not timeline:
        return [], None
    counts = Counter(s.state for s in timeline)
    best = max(counts.values())
    dominant = next(s.state for s in timeline if counts[s.state] == best)
    return timeline, dominant


def labels_from_events(events: Iterable[Event], duration_s: float, origin: str) -> tuple[Findings, Labels, Reading]:
    """Findings, label provenance and the raw reading of a recording's annotations (EDF+, BIDS events).

    Only abnormal annotations make the impression known: a record with no abnormal event is not known
    to be normal (nobody said so), so its impression stays unknown and no narrative is rendered for it.
    """
    reading = read_events(events, duration_s)
    found, set_aside = assemble(reading.marks)
    timeline, dominant = state_timeline(reading.states, duration_s)
    abnormal = derive_impression(found) == "abnormal" or abnormal_set_aside(set_aside)
    findings = Findings(
        tuple(found), state=dominant or "awake", state_timeline=tuple(timeline),
        impression="abnormal" if abnormal else "normal",
    )  # fmt: skip
    labels = Labels(
        origin=[origin] if reading.mapped else [],
        impression_known=abnormal,
        state_known=dominant is not None,
        counts={**reading.counts(), "set_aside": dict(set_aside)},
    )
    return findings, labels, reading
