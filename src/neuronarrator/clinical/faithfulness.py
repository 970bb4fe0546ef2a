"""Faithfulness of a narrative to the predicted findings: check it, count what is wrong, repair it.

A generated narrative (the language model's, or any text) is read back with the project's labeler
(:func:`~neuronarrator.clinical.label.analyze_report`) and compared with the finding heads' predictions
(DESIGN.md, "The report document": the narrative must agree with the findings list). Three kinds of issue:

``unsupported``
    A finding the text asserts (negated mentions such as "no epileptiform discharges" assert nothing)
    that no predicted finding supports: none has the same code with probability ≥ ``supported`` and a
    compatible side. The issue carries the sentence span(s) that assert it.
``omitted``
    A predicted finding with probability ≥ ``confident`` that the text does not assert (no asserted
    finding of the same code with a compatible side, at any certainty). Low-probability predictions the
    text leaves out are not omissions: the text is free to stay silent about what the heads doubt.
``contradiction``
    The text's impression (stated, else derived from its findings) differs from the predicted impression
    ("normal" text for an abnormal prediction), or the dominant state it reads as differs from the
    predicted state. ``code`` is ``"impression"`` or ``"state"``.

Side compatibility (:func:`sides_compatible`): the side of a generalized code (``GENERALIZED_CODES``) is not
compared (text cannot tell ``None``/``generalized``/``bilateral`` apart there; ``finding_key`` drops it too);
otherwise two sides are compatible when equal, when either is unknown (``None``: the text or the
prediction makes no claim about the side), or when they are ``bilateral`` and ``generalized`` (the same
claim for a seizure or an artifact). ``left`` against ``right``, and ``left``/``right`` against
``bilateral``, are not compatible: a lateralized claim is a different finding from a bilateral one.
Regions, certainty class and frequency are not compared (see the module's limits below).

Repair (:func:`repair_narrative`) rewrites sections instead of re-decoding: it deletes the sentences
that carry only unsupported findings, and re-renders the description and/or impression section from the
predicted findings with the project's renderer (:func:`~neuronarrator.clinical.render.render_report`)
where something is omitted or contradicted, or where a sentence mixes supported and unsupported findings
(a sentence cannot be cut in half safely). Everything else, other sections included, is kept verbatim.
Why not constrained re-decoding: it needs the language model and its decoder here, gives no guarantee
that the new text reads back right, and is not deterministic; the renderer's text reads back as exactly
what it was given (its round-trip test), so the repaired report is consistent by construction, and a
caller that has the model can still re-decode first and use this as the fallback.

Limits: regions, certainty and frequency of a finding are not checked (a "possible" statement of a
confident finding passes); the clinical-correlation section is not read by the labeler and is kept as
written, so it may still discuss a deleted finding; the labeler's reading is the arbiter, so its errors
are this module's errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from neuronarrator.clinical.findings import GENERALIZED_CODES, Finding, Findings
from neuronarrator.clinical.label import LabelResult, analyze_report
from neuronarrator.clinical.render import HEADINGS, Narrative, render_report
from neuronarrator.clinical.text import FINDING_SECTIONS, Section

KINDS = ("unsupported", "omitted", "contradiction")
Span = tuple[int, int]


@dataclass(frozen=True)
class Issue:
    """One way the text and the predicted findings disagree.

    Attributes
    ----------
    kind : ``unsupported``, ``omitted`` or ``contradiction``.
    code : the finding code; for contradictions ``"impression"`` or ``"state"``.
    side : the side of the finding (the text's for ``unsupported``, the prediction's for ``omitted``).
    spans : character spans of the sentences concerned (``unsupported``; the section for an impression
        contradiction); empty where the text has nothing to point at (an omission).
    text_value, predicted_value : what the text says and what was predicted (contradictions), or the
        probabilities (text certainty / predicted probability) for findings.
    """

    kind: str
    code: str
    side: str | None = None
    spans: tuple[Span, ...] = ()
    text_value: str | float | None = None
    predicted_value: str | float | None = None

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


def _matches(text_f: Finding, pred_f: Finding) -> bool:
    return text_f.code == pred_f.code and sides_compatible(text_f.code, text_f.side, pred_f.side)


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
    if said != predicted.impression:
        where = tuple(_body(text, s) for s in result.sections if s.kind == "impression")
        issues.append(Issue("contradiction", "impression", None, where, said, predicted.impression))
    if result.findings.state != predicted.state:
        issues.append(Issue("contradiction", "state", None, (), result.findings.state, predicted.state))
    return FaithfulnessReport(tuple(issues), asserted, tuple(judged), result, confident, supported)


# --- repair ---------------------------------------------------------------------------------------------
def repair_narrative(
    text: str,
    predicted: Findings,
    rng: np.random.Generator | int | None = None,
    *,
    confident: float = 0.8,
    supported: float = 0.5,
) -> tuple[str, FaithfulnessReport, FaithfulnessReport]:
    """Rewrite what is wrong in a narrative, section by section (see the module doc for why).

    Round 1 makes the smallest edit: sentences that carry only unsupported findings are deleted; the
    description section is re-rendered when a finding is omitted, the state contradicted, or a description
    sentence mixes supported and unsupported findings; the impression section when the impression is
    contradicted or an impression sentence is mixed. If issues remain (a deletion took the stated
    impression with it, say), round 2 re-renders both sections and deletes every other finding-section
    sentence that asserts an unsupported finding; round 3 keeps only the re-rendered sections among the
    sections the labeler reads. Sections it does not read (history, clinical correlation) are never
    touched.

    Parameters
    ----------
    text : the narrative.
    predicted : the predicted findings.
    rng : phrasing choices of the renderer (a seed gives one text).
    confident, supported : thresholds, as in :func:`check_narrative`.

    Returns
    -------
    (fixed_text, report_before, report_after)
    """
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    thresholds = {"confident": confident, "supported": supported}
    before = check_narrative(text, predicted, **thresholds)
    if before.ok:
        return text, before, before
    target = _renderable(predicted, supported)
    fixed, report = text, before
    for level in (1, 2, 3, 3, 3):  # level 3 retried with fresh phrasing: a rare phrase may read back wrong
        narrative = render_report(target, rng=gen)
        fixed = _repair_once(text, before, narrative, level)
        report = check_narrative(fixed, predicted, **thresholds)
        if report.ok:
            break
    return fixed, before, report


def _renderable(predicted: Findings, supported: float) -> Findings:
    """The predicted findings the text may assert (probability ≥ ``supported``), with the predicted state
    and impression."""
    kept = [f for f in predicted.findings if f.probability >= supported]
    if not any(f.code == "pdr" for f in kept):
        kept = [f for f in kept if f.code != "pdr_reactive"]  # reactivity is a property of a listed PDR
    return Findings(
        findings=tuple(kept),
        state=predicted.state,
        state_timeline=predicted.state_timeline,
        impression=predicted.impression,
        extras=dict(predicted.extras),
    )


def _repair_once(text: str, report: FaithfulnessReport, narrative: Narrative, level: int) -> str:
    result = report.label
    finding_sections = [s for s in result.sections if s.kind in FINDING_SECTIONS and s.kind != "impression"]
    impression_sections = [s for s in result.sections if s.kind == "impression"]
    # Per sentence span: are its asserted findings all unsupported, or a mix?
    carried: dict[Span, list[bool]] = {}
    for f, ok in zip(report.asserted, report.supported, strict=True):
        for span in result.sources_of(f):
            carried.setdefault(span, []).append(ok)
    bad_only = {s for s, oks in carried.items() if not any(oks)}
    mixed = {s for s, oks in carried.items() if any(oks) and not all(oks)}
    kinds = {(i.kind, i.code) for i in report.issues}

    def inside(span: Span, sections: Iterable[Section]) -> bool:
        return any(s.start <= span[0] and span[1] <= s.end for s in sections)

    redo_description = (
        level >= 2
        or any(k == "omitted" or c == "state" for k, c in kinds)
        or any(inside(s, finding_sections) for s in mixed)
    )
    redo_impression = (
        level >= 2
        or ("contradiction", "impression") in kinds
        or any(inside(s, impression_sections) for s in mixed)
    )
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement) in the original text
    replaced: list[Section] = []
    prepend: list[str] = []
    append: list[str] = []
    if redo_description:
        if finding_sections:
            first = finding_sections[0]
            edits.append((*_body(text, first), narrative.description))
            replaced.append(first)
            if level >= 3:
                for s in finding_sections[1:]:
                    edits.append((*_body(text, s), ""))
                    replaced.append(s)
        else:
            prepend.append(f"{HEADINGS['description']}:\n{narrative.description}\n\n")
    if redo_impression:
        if impression_sections:
            edits.append((*_body(text, impression_sections[0]), narrative.impression))
            replaced.extend(impression_sections)
            for s in impression_sections[1:]:
                edits.append((*_body(text, s), ""))
        else:
            append.append(f"{HEADINGS['impression']}:\n{narrative.impression}\n")
    # With the description re-rendered, a mixed sentence elsewhere can go: its supported part is restated.
    deletable = bad_only | (mixed if redo_description else set())
    for span in sorted(deletable):
        if not any(s.start <= span[0] and span[1] <= s.end for s in replaced):
            edits.append((*_cut(text, span), ""))
    out = text
    for start, end, new in sorted(edits, key=lambda e: e[0], reverse=True):
        out = out[:start] + new + out[end:]
    if append:
        out = _insert_impression(out, append[0])
    return "".join(prepend) + out


def _body(text: str, section: Section) -> Span:
    """The span of a section's body without its surrounding whitespace (an empty body: where it starts)."""
    body = text[section.start : section.end]
    lead = len(body) - len(body.lstrip())
    if not body.strip():
        return (section.start + min(1, len(body)), section.start + min(1, len(body)))
    return (section.start + lead, section.start + len(body.rstrip()))


def _cut(text: str, span: Span) -> Span:
    """What deleting a sentence removes: a sentence alone on its line (a list item, with its number or
    bullet) takes its whole line; otherwise the sentence and the spaces after it, never a line break."""
    start, end = span
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    if _ITEM_PREFIX.fullmatch(text[line_start:start]) and not text[end:line_end].strip():
        return line_start, min(line_end + 1, len(text))
    if not text[end:line_end].strip():  # last on its line: take the spaces before it instead
        return len(text[:start].rstrip(" \t")), end
    m = re.match(r"[ \t]*", text[end:])
    return start, end + (m.end() if m else 0)


_ITEM_PREFIX = re.compile(r"[ \t]*(?:(?:[-*•]|\(?\d{1,2}[.)]|\(?[a-h]\))[ \t]+)?")


def _insert_impression(text: str, block: str) -> str:
    """A new IMPRESSION section goes before the clinical correlation (or recommendations), else at the end."""
    m = re.search(r"(?im)^[ \t]*(clinical correlation|correlation|comments?|recommendations?)[ \t]*:", text)
    if m:
        return text[: m.start()] + block + "\n" + text[m.start() :]
    return text.rstrip("\n") + "\n\n" + block
