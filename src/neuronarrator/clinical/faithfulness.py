"""Faithfulness of a narrative to the predicted findings: check it, count what is wrong, repair it.

A generated narrative (the language model's, or any text) is read back with the project's labeler
(:func:`~neuronarrator.clinical.label.analyze_report`) and compared with the finding heads' predictions
(DESIGN.md, "The report document": the narrative must agree with the findings list). Three kinds of issue
(:data:`KINDS`; ``FaithfulnessReport.counts`` counts each):

``unsupported``
    A finding the text asserts (negated mentions such as "no epileptiform discharges" assert nothing)
    that no predicted finding supports: none has the same code with probability ≥ ``supported`` and a
    compatible side. The issue carries the sentence span(s) that assert it.
``omitted``
    A predicted finding with probability ≥ ``confident`` that the text does not assert (no asserted
    finding of the same code with a compatible side, at any certainty). Low-probability predictions the
    text leaves out are not omissions: the text is free to stay silent about what the heads doubt.
``contradiction``
    The text says something other than what was predicted. ``code`` is

    * ``"impression"``: the text's impression (stated, else derived from its findings) differs from the
      predicted one ("normal" text for an abnormal prediction);
    * ``"state"``: a finding section (description, impression), read on its own, states a state that does
      not fit the predicted one ("Normal EEG in the sleep state" for a predicted awake record, even when the
      whole text reads as awake): one issue per such section, with the spans of its stating sentences
      (:func:`_section_state_issues`); where no section does so, the dominant state the whole text reads as
      differs from the predicted state (one issue without spans);
    * a finding code, with ``attribute="frequency_hz"``: a frequency the text writes for a supported finding
      (every mention, description or impression) is more than :data:`FREQUENCY_TOLERANCE_HZ` from each
      supporting prediction's frequency ("a posterior dominant rhythm of 8.5 Hz" for a predicted 10.25 Hz
      PDR); the labeler reads frequencies for the PDR, spike-and-wave, LPD/GPD, LRDA/GRDA and excess beta.
      No check where the text or the prediction gives no frequency;
    * ``"clinical_correlation"``: a sentence of the CLINICAL CORRELATION section asserts a finding no
      prediction supports (read by the labeler as in a description, interpretive words such as
      "encephalopathy" excepted), or makes a clinical claim the predictions do not support
      (:data:`_CORRELATION_CLAIMS`: epilepsy/seizures/epileptogenic need an epileptiform finding or a
      seizure; diffuse dysfunction/encephalopathy need diffuse slowing, burst suppression, GPD or GRDA;
      focal dysfunction/structural need a focal or lateralized finding; "normal EEG" needs a normal
      impression, "abnormal EEG" an abnormal one; a negated sentence, "does not exclude epilepsy", makes
      no claim of the first kinds). One issue for the section, with the offending sentences' spans and the
      claims (``text_value``).

    A frequency or correlation contradiction is a contradiction rather than a kind of its own so that
    ``counts`` keeps its keys (the report document's ``faithfulness`` block).

Side compatibility (:func:`sides_compatible`): the side of a generalized code (``GENERALIZED_CODES``) is not
compared (text cannot tell ``None``/``generalized``/``bilateral`` apart there; ``finding_key`` drops it too);
otherwise two sides are compatible when equal, when either is unknown (``None``: the text or the
prediction makes no claim about the side), or when they are ``bilateral`` and ``generalized`` (the same
claim for a seizure or an artifact). ``left`` against ``right``, and ``left``/``right`` against
``bilateral``, are not compatible: a lateralized claim is a different finding from a bilateral one.
Regions (:func:`regions_compatible`, lateralized codes only): a text naming regions must share one with the
prediction's ("right temporal slowing" does not support, nor state, a predicted right frontal slowing).
Certainty class is not compared (see the module's limits below).

Repair (:func:`~neuronarrator.clinical.repair.repair_narrative`) rewrites sections instead of re-decoding: it deletes the sentences
that carry only unsupported findings, and re-renders the description and/or impression section from the
predicted findings with the project's renderer (:func:`~neuronarrator.clinical.render.render_report`)
where something is omitted or contradicted (a wrong frequency included), or where a sentence mixes supported
and unsupported findings (a sentence cannot be cut in half safely); a clinical correlation with a
contradiction is replaced as a whole by the renderer's correlation for the predicted findings. Everything
else, other sections included (a consistent correlation too), is kept verbatim.
Why not constrained re-decoding: it needs the language model and its decoder here, gives no guarantee
that the new text reads back right, and is not deterministic; the renderer's text reads back as exactly
what it was given (its round-trip test), so the repaired report is consistent by construction, and a
caller that has the model can still re-decode first and use this as the fallback.

Limits: the certainty of a finding is not checked (a "possible" statement of a confident finding passes),
and regions only for overlap (a text naming more regions than predicted passes); a frequency tolerance of 1 Hz is coarse for sub-2 Hz periodic discharges; the clinical correlation
is checked only for the findings the labeler reads there and the claims of :data:`_CORRELATION_CLAIMS`
(keyword rules with a sentence-wide negation test: other interpretations, such as a medication effect, and
a claim in a sentence that also negates something else pass unchecked), and a correlation that is merely
vaguer than the findings (no mention of a predicted finding) is kept; the labeler's reading is the arbiter,
so its errors are this module's errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from neuronarrator.clinical.findings import GENERALIZED_CODES, LATERALIZED_CODES, Finding, Findings
from neuronarrator.clinical.label import _STAGES, LabelResult, _read_state, analyze_report, state_words
from neuronarrator.clinical.mentions import SentenceRead, read_section
from neuronarrator.clinical.text import (
    FINDING_SECTIONS,
    Section,
)

__all__ = ["FREQUENCY_TOLERANCE_HZ", "KINDS", "FaithfulnessReport", "Issue", "check_narrative", "regions_compatible",
           "sides_compatible"]

KINDS = ("unsupported", "omitted", "contradiction")
Span = tuple[int, int]

#: A frequency the text writes for a finding may differ this much from the predicted one (Hz). Clinicians
#: write the PDR to 0.5 Hz (and the renderer rounds to 0.5 Hz, so its own text is within 0.25 Hz); the
#: frequency heads' real-data target is "within 1 Hz" of the reference, so a larger gap is a different claim
#: ("8.5 Hz" for a predicted 10.25 Hz PDR), not a rounding of the same one. The same tolerance is used for
#: the other codes the labeler reads a frequency for (spike-and-wave, periodic and rhythmic delta patterns,
#: beta): coarse for sub-2 Hz periodic discharges, but those rates are themselves estimated only to ~0.5 Hz.
FREQUENCY_TOLERANCE_HZ = 1.0

#: Codes whose presence supports each kind of clinical claim in the CLINICAL CORRELATION section.
EPILEPTIFORM_CODES = frozenset(
    {"focal_epileptiform", "generalized_spike_wave", "seizure", "lpd", "gpd", "lrda"}
)
DIFFUSE_CODES = frozenset({"generalized_slowing", "burst_suppression", "gpd", "grda"})
FOCAL_CODES = frozenset({"focal_slowing", "asymmetry", "lpd", "lrda", "focal_epileptiform"})
_R = re.IGNORECASE
#: (claim, what in a sentence makes it, what supports it: codes, or the predicted impression; whether a
#: negated sentence ("does not exclude epilepsy") makes no claim).
_CORRELATION_CLAIMS: tuple[tuple[str, re.Pattern[str], frozenset[str] | str, bool], ...] = (
    ("epilepsy", re.compile(r"epilep|seizure|\bictal|convuls", _R), EPILEPTIFORM_CODES, True),
    ("diffuse dysfunction",
     re.compile(r"encephalopath|diffuse\s+(?:cerebral\s+|cortical\s+)?dysfunction", _R), DIFFUSE_CODES, True),
    ("focal dysfunction",
     re.compile(r"focal\s+(?:cerebral\s+|cortical\s+)?dysfunction|structural|lesion", _R), FOCAL_CODES, True),
    ("normal EEG",
     re.compile(r"\bnormal\s+(?:interictal\s+|routine\s+)?(?:EEG|electroencephalogram|study|record(?:ing)?)\b", _R),
     "normal", False),
    ("abnormal EEG",
     re.compile(r"\babnormal\s+(?:EEG|electroencephalogram|study|record(?:ing)?)\b", _R), "abnormal", True),
)  # fmt: skip
#: Words the labeler reads as a finding ("encephalopathy" as slowing, "medication effect" as excess beta) that
#: in a correlation are an interpretation: the claims above judge them, not the finding they would read as.
_INTERPRETIVE = re.compile(r"encephalopath|dysfunction|medication|sedati|drug|toxic|metabolic", _R)
_NEGATION = re.compile(r"\b(?:no|not|never|without|cannot|nor)\b|n't\b|\brul(?:e[sd]?|ing) out\b|"
                       r"\blimited sensitivity\b", _R)  # fmt: skip


@dataclass(frozen=True)
class Issue:
    """One way the text and the predicted findings disagree.

    Attributes
    ----------
    kind : ``unsupported``, ``omitted`` or ``contradiction``.
    code : the finding code; for contradictions ``"impression"``, ``"state"``, ``"clinical_correlation"``,
        or the finding code when a finding's ``attribute`` is contradicted.
    side : the side of the finding (the text's for ``unsupported``, the prediction's for ``omitted``).
    spans : character spans of the sentences concerned (``unsupported``; the section for an impression
        contradiction); empty where the text has nothing to point at (an omission).
    text_value, predicted_value : what the text says and what was predicted (contradictions), or the
        probabilities (text certainty / predicted probability) for findings. A clinical-correlation
        contradiction has the claims the findings do not support (``"epilepsy"``, ``"normal EEG"``, a finding
        code, comma-separated) and the predicted impression.
    attribute : the finding attribute a contradiction is about (``"frequency_hz"``: the text's and the
        predicted frequency, Hz, differ by more than :data:`FREQUENCY_TOLERANCE_HZ`), else None.
    """

    kind: str
    code: str
    side: str | None = None
    spans: tuple[Span, ...] = ()
    text_value: str | float | None = None
    predicted_value: str | float | None = None
    attribute: str | None = None

    @property
    def span(self) -> Span | None:
        """The first span, or None."""
        return self.spans[0] if self.spans else None


@dataclass(frozen=True)
class FaithfulnessReport:
    """What :func:`check_narrative` found: the issues, the asserted findings and how each was judged."""

    issues: tuple[Issue, ...]
    asserted: tuple[Finding, ...]
    supported: tuple[bool, ...]
    label: LabelResult = field(repr=False, compare=False)
    confident: float = 0.8
    supported_threshold: float = 0.5

    @property
    def ok(self) -> bool:
        return not self.issues

    def of_kind(self, kind: str) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.kind == kind)

    @property
    def counts(self) -> dict[str, int]:
        """``unsupported``, ``omitted``, ``contradictions`` and ``n_asserted`` (findings the text asserts)."""
        return {
            "unsupported": len(self.of_kind("unsupported")),
            "omitted": len(self.of_kind("omitted")),
            "contradictions": len(self.of_kind("contradiction")),
            "n_asserted": len(self.asserted),
        }

    @property
    def unsupported_rate(self) -> float:
        """Unsupported asserted findings / asserted findings (0.0 when the text asserts none)."""
        return len(self.of_kind("unsupported")) / len(self.asserted) if self.asserted else 0.0


def sides_compatible(code: str, text_side: str | None, predicted_side: str | None) -> bool:
    """Whether a text's side for ``code`` is compatible with a predicted one (rules in the module doc)."""
    if code in GENERALIZED_CODES or text_side is None or predicted_side is None:
        return True
    return text_side == predicted_side or {text_side, predicted_side} == {"bilateral", "generalized"}


def regions_compatible(code: str, text_regions: tuple[str, ...], predicted_regions: tuple[str, ...]) -> bool:
    """Whether a text's regions for ``code`` can describe a predicted finding's: always for a code without
    a location of its own (not lateralized: the PDR, generalized codes, artifacts), or where either names
    none (a hemispheric claim, or no claim); otherwise they must share a region ("right temporal" does not
    describe a right frontal finding; "right fronto-temporal" does)."""
    if code not in LATERALIZED_CODES or not text_regions or not predicted_regions:
        return True
    return bool(set(text_regions) & set(predicted_regions))


def _matches(text_f: Finding, pred_f: Finding) -> bool:
    return (text_f.code == pred_f.code and sides_compatible(text_f.code, text_f.side, pred_f.side)
            and regions_compatible(text_f.code, text_f.regions, pred_f.regions))  # fmt: skip


def check_narrative(
    text: str, predicted: Findings, *, confident: float = 0.8, supported: float = 0.5
) -> FaithfulnessReport:
    """Check a narrative against predicted findings.

    Parameters
    ----------
    text : the narrative (any layout the labeler reads; headed sections as rendered are best).
    predicted : the finding heads' output (findings with probabilities, state, impression).
    confident : a predicted finding this probable must be asserted by the text, else it is ``omitted``.
    supported : an asserted finding needs a predicted one this probable (same code, compatible side).

    Returns
    -------
    FaithfulnessReport
    """
    if not 0.0 <= supported <= confident <= 1.0:
        raise ValueError(
            f"need 0 <= supported <= confident <= 1, got supported={supported}, confident={confident}"
        )
    result = analyze_report(text)
    asserted = result.findings.findings
    backing = [f for f in predicted.findings if f.probability >= supported]
    issues: list[Issue] = []
    judged: list[bool] = []
    for f in asserted:
        ok = any(_matches(f, p) for p in backing)
        judged.append(ok)
        if not ok:
            best = max((p.probability for p in predicted.findings if p.code == f.code), default=None)
            issues.append(Issue("unsupported", f.code, f.side, result.sources_of(f), f.probability, best))
    for p in predicted.findings:
        if p.probability >= confident and not any(_matches(f, p) for f in asserted):
            issues.append(Issue("omitted", p.code, p.side, (), None, p.probability))
    said = result.findings.impression
    impressions = [s for s in result.sections if s.kind == "impression"]
    empty = bool(impressions) and not any(text[s.start : s.end].strip() for s in impressions)
    if said != predicted.impression or empty:  # an IMPRESSION heading with nothing under it says nothing
        where = tuple(_body(text, s) for s in impressions)
        issues.append(Issue("contradiction", "impression", None, where, None if empty else said,
                            predicted.impression))  # fmt: skip
    states = _section_state_issues(text, result, predicted.state)
    if not states and result.findings.state != predicted.state:
        states = [Issue("contradiction", "state", None, (), result.findings.state, predicted.state)]
    issues.extend(states)
    issues.extend(_frequency_issues(result, backing))
    issues.extend(_correlation_issues(text, result, predicted, backing))
    return FaithfulnessReport(tuple(issues), asserted, tuple(judged), result, confident, supported)


def _section_state_issues(text: str, result: LabelResult, predicted: str) -> list[Issue]:
    """Each finding section (description, impression, other) on its own: one that states a state (a state
    word the labeler counts: not part of a finding's name, not negated, not a circumstance of a finding) none
    of which fits the predicted state is a contradiction, with the spans of its sentences that state a state
    that does not fit. The states weighed are the section's dominance-marked ones ("mostly in drowsiness")
    when it has any, else every state it speaks of (its words, and the PDR/spindles the labeler counts), so
    "Normal EEG in the awake and sleep states" fits a predicted N2 record; plain "sleep" fits any sleep
    stage. ``text_value`` is the labeler's state for the section alone. A section that states no state
    (only a PDR, say) is left to the whole-text check."""
    issues: list[Issue] = []
    for section in (s for s in result.sections if s.kind in FINDING_SECTIONS):
        reads, _ = read_section(text, section)
        words = [state_words(r) for r in reads]
        if not any(words):
            continue
        dominant = {state for ws in words for state, marked in ws if marked}
        weighed = dominant or {state for ws in words for state, _ in ws} | _hit_states(reads)
        if any(_fits(state, predicted) for state in weighed):
            continue
        spans = tuple(
            (r.sentence.start, r.sentence.end)
            for r, ws in zip(reads, words, strict=True)
            if any(state in weighed and not _fits(state, predicted) for state, _ in ws)
        ) or tuple((r.sentence.start, r.sentence.end) for r, ws in zip(reads, words, strict=True) if ws)
        issues.append(Issue("contradiction", "state", None, spans, _read_state(reads), predicted))
    return issues


def _fits(state: str, predicted: str) -> bool:
    return state == predicted or (state == "sleep" and predicted in _STAGES)


def _hit_states(reads: list[SentenceRead]) -> set[str]:
    """States the labeler infers from findings: a PDR is awake, spindles or K-complexes N2."""
    out: set[str] = set()
    for read in reads:
        for h in read.hits:
            if not (h.negated or h.note):
                if h.code in ("sleep_spindles", "k_complexes"):
                    out.add("n2")
                elif h.code == "pdr":
                    out.add("awake")
    return out


def _frequency_issues(result: LabelResult, backing: list[Finding]) -> list[Issue]:
    """Every asserted mention with a frequency (not only the first one a merged finding keeps) against the
    supporting predictions of its finding that have a frequency: off by more than the tolerance from all of
    them is a contradiction. A mention no prediction supports is already ``unsupported``; a prediction
    without a frequency makes no claim to compare with."""
    found: dict[tuple[str, str | None], list] = {}  # (code, predicted side) -> [spans, text Hz, predicted Hz]
    for m in result.mentions:
        if not m.asserted or m.frequency_hz is None or m.code is None:
            continue
        preds = [p for p in backing if p.frequency_hz is not None and _matches_side(m.code, m.side, p)]
        if not preds:
            continue
        closest = min(preds, key=lambda p: abs(p.frequency_hz - m.frequency_hz))
        if abs(closest.frequency_hz - m.frequency_hz) <= FREQUENCY_TOLERANCE_HZ + 1e-9:
            continue
        entry = found.setdefault((m.code, closest.side), [[], m.frequency_hz, closest.frequency_hz])
        if m.sentence not in entry[0]:
            entry[0].append(m.sentence)
    return [
        Issue("contradiction", code, side, tuple(spans), hz, pred_hz, attribute="frequency_hz")
        for (code, side), (spans, hz, pred_hz) in found.items()
    ]


def _matches_side(code: str, side: str | None, p: Finding) -> bool:
    return code == p.code and sides_compatible(code, side, p.side)


def _correlation_issues(
    text: str, result: LabelResult, predicted: Findings, backing: list[Finding]
) -> list[Issue]:
    """The CLINICAL CORRELATION section(s), sentence by sentence: a finding the labeler reads there (as it
    would in a description; interpretive words excepted, :data:`_INTERPRETIVE`) needs a supporting
    prediction, and a clinical claim (:data:`_CORRELATION_CLAIMS`:
    epilepsy, diffuse or focal dysfunction, "normal"/"abnormal EEG") needs a supporting finding or the
    predicted impression. One issue for all the section's offending sentences."""
    codes = {p.code for p in backing}
    claims: list[str] = []
    spans: list[Span] = []
    for section in (s for s in result.sections if s.kind == "correlation"):
        reads, _ = read_section(text, section)
        for read in reads:
            said = read.sentence.text
            bad = [
                h.code
                for h in read.hits
                if h.code is not None and not h.negated and not h.note
                and not _INTERPRETIVE.search(said[h.start : h.end])
                and not any(_matches_side(h.code, h.side, p) and regions_compatible(h.code, h.regions, p.regions)
                            for p in backing)
            ]  # fmt: skip
            negated = bool(_NEGATION.search(said))
            for claim, pattern, needs, negatable in _CORRELATION_CLAIMS:
                if not pattern.search(said) or (negatable and negated):
                    continue
                ok = predicted.impression == needs if isinstance(needs, str) else bool(needs & codes)
                if not ok:
                    bad.append(claim)
            if bad:
                claims.extend(c for c in bad if c not in claims)
                spans.append((read.sentence.start, read.sentence.end))
    if not claims:
        return []
    return [Issue("contradiction", "clinical_correlation", None, tuple(spans), ", ".join(claims),
                  predicted.impression)]  # fmt: skip


# --- repair ---------------------------------------------------------------------------------------------
def _body(text: str, section: Section) -> Span:
    """The span of a section's body without its surrounding whitespace (an empty body: where it starts)."""
    body = text[section.start : section.end]
    lead = len(body) - len(body.lstrip())
    if not body.strip():
        return (section.start + min(1, len(body)), section.start + min(1, len(body)))
    return (section.start + lead, section.start + len(body.rstrip()))
