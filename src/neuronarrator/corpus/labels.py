"""Labels of the corpus: which findings a segment carries, patient-level splits, derived seeds, targets.

A session's truth is a :class:`~neuronarrator.clinical.findings.Findings` whose findings say where they
show (evidence spans). A 10-s segment carries a finding when one of its evidence spans overlaps the
segment by at least :data:`MIN_OVERLAP_S` (1 s), or by half the span when the span is shorter than 2 s:
a 70-ms spike or a 0.3-s blink can never overlap anything by 1 s, and without that rule no segment would
ever carry a transient. A finding without evidence (a label given for the whole recording, e.g. TUAB's
impression-only data) is carried by every segment and reported as *session-level*.

Splits are by patient and by hash: ``(source, patient)`` alone decides the split, so adding a source or
a session never moves an existing patient, and no patient can straddle two splits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from neuronarrator.clinical.findings import CODES, REGIONS, SIDES, Evidence, Findings, StateSpan

#: Minimum overlap (seconds) of an evidence span with a segment for the segment to carry the finding.
MIN_OVERLAP_S = 1.0
#: Default split fractions (train, val, test).
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
SPLITS = ("train", "val", "test")
#: Index of each finding code in the multi-hot target vector (the order of ``CODES``).
CODE_INDEX = {code: i for i, code in enumerate(CODES)}


def stable_fraction(*parts: str) -> float:
    """A number in [0, 1) fixed by the strings alone (sha256; no process salt as ``hash()`` has)."""
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def derived_seed(*parts: str) -> int:
    """A 63-bit seed fixed by the strings alone (e.g. ``source, key, segment``)."""
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def split_of(source: str, patient: str, fractions: Sequence[float] = SPLIT_FRACTIONS) -> str:
    """``train``, ``val`` or ``test`` for this patient of this source (by hash, see the module docstring)."""
    if len(fractions) != len(SPLITS) or any(f < 0 for f in fractions) or not np.isclose(sum(fractions), 1.0):
        raise ValueError(f"split fractions must be three non-negative numbers summing to 1, got {fractions}")
    u = stable_fraction(source, patient)
    edges = np.cumsum(fractions)
    for split, edge in zip(SPLITS, edges, strict=True):
        if u < edge:
            return split
    return SPLITS[-1]  # u within float error of 1


def _overlap_s(evidence: Evidence, start_s: float, end_s: float) -> float:
    return min(evidence.end_s, end_s) - max(evidence.start_s, start_s)


def _carries(evidence: Evidence, start_s: float, end_s: float) -> bool:
    needed = min(MIN_OVERLAP_S, 0.5 * (evidence.end_s - evidence.start_s))
    return _overlap_s(evidence, start_s, end_s) >= needed


def segment_findings(findings: Findings, start_s: float, end_s: float) -> tuple[Findings, tuple[str, ...]]:
    """The findings one segment carries, with evidence clipped to it and times from its start.

    Parameters
    ----------
    findings : Findings
        The session's truth (evidence in seconds from the session's start).
    start_s, end_s : float
        The segment, seconds from the session's start.

    Returns
    -------
    segment : Findings
        Evidence spans clipped to the segment, in seconds from the *segment's* start; the state is the
        one covering most of the segment (the session's state without a timeline); the impression is
        derived from the carried findings.
    session_level : tuple of str
        Sorted codes carried only because they have no evidence (labels for the whole recording).
    """
    kept, session_level = [], set()
    for finding in findings.findings:
        if not finding.evidence:
            kept.append(finding)
            session_level.add(finding.code)
            continue
        spans = [
            Evidence(max(e.start_s, start_s) - start_s, min(e.end_s, end_s) - start_s, e.channels)
            for e in finding.evidence
            if _carries(e, start_s, end_s)
        ]
        if spans:
            kept.append(finding.with_(evidence=tuple(spans)))
    codes = {f.code for f in kept}
    if "pdr_reactive" in codes and "pdr" not in codes:
        # Reactivity is a property of a PDR: a segment that is all eyes-open shows the attenuation but
        # not the rhythm it attenuates, and the schema (rightly) refuses a reactive PDR without a PDR.
        kept = [f for f in kept if f.code != "pdr_reactive"]
        session_level.discard("pdr_reactive")
    timeline = [
        StateSpan(max(s.start_s, start_s) - start_s, min(s.end_s, end_s) - start_s, s.state)
        for s in findings.state_timeline
        if _overlap_s(Evidence(s.start_s, s.end_s), start_s, end_s) > 0
    ]
    state = findings.state
    if timeline:
        cover: dict[str, float] = {}
        for span in timeline:
            cover[span.state] = cover.get(span.state, 0.0) + span.end_s - span.start_s
        state = max(cover, key=lambda s: (cover[s], s))  # ties broken by name: deterministic
    return Findings(findings=tuple(kept), state=state, state_timeline=tuple(timeline)), tuple(sorted(session_level))


def finding_targets(findings: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training targets from a findings document (``Findings.to_dict()`` form).

    Returns
    -------
    present : array, shape (n_codes,), float32
        Multi-hot over :data:`~neuronarrator.clinical.findings.CODES`.
    side : array, shape (n_codes,), int64
        Index into :data:`~neuronarrator.clinical.findings.SIDES` per code, -1 where the code is absent
        or has no side (use as ``ignore_index``); a code found both left and right is ``bilateral``.
    regions : array, shape (n_codes, n_regions), float32
        Multi-hot over :data:`~neuronarrator.clinical.findings.REGIONS` per code (union over repeats).
    """
    present = np.zeros(len(CODES), dtype=np.float32)
    side = np.full(len(CODES), -1, dtype=np.int64)
    regions = np.zeros((len(CODES), len(REGIONS)), dtype=np.float32)
    sides_seen: dict[int, set[str]] = {}
    for finding in findings.get("findings", ()):
        i = CODE_INDEX[finding["code"]]
        present[i] = 1.0
        if finding.get("side"):
            sides_seen.setdefault(i, set()).add(finding["side"])
        for region in finding.get("regions", ()):
            regions[i, REGIONS.index(region)] = 1.0
    for i, seen in sides_seen.items():
        chosen = seen.pop() if len(seen) == 1 else "bilateral"
        side[i] = SIDES.index(chosen)
    return present, side, regions
