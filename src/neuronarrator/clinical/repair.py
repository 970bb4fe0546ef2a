"""Repair of a narrative against predicted findings: section by section, with the project's renderer.

:func:`repair_narrative` takes what :func:`~neuronarrator.clinical.faithfulness.check_narrative` found and
rewrites only what is wrong (see that module's docstring for the issue kinds and why sections are
re-rendered rather than re-decoded): round 1 deletes sentences that carry only unsupported findings and
re-renders the description and/or impression where needed; rounds 2 and 3 widen the rewrite until the
text checks clean.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

from neuronarrator.clinical.faithfulness import (
    FaithfulnessReport,
    Span,
    _body,
    check_narrative,
)
from neuronarrator.clinical.findings import Findings
from neuronarrator.clinical.render import HEADINGS, Narrative, render_report
from neuronarrator.clinical.text import FINDING_SECTIONS, Section

__all__ = ["repair_narrative"]


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
    description section is re-rendered when a finding is omitted, the state contradicted (by the whole text
    or by the description), or a description sentence mixes supported and unsupported findings; the impression
    section when the impression is contradicted, the impression states a wrong state, or an impression sentence
    is mixed. If issues remain (a deletion took the stated
    impression with it, say), round 2 re-renders both sections and deletes every other finding-section
    sentence that asserts an unsupported finding; round 3 keeps only the re-rendered sections among the
    sections the labeler reads. A sentence with a frequency off the predicted one counts as mixed. The
    clinical correlation is replaced by the renderer's when it has a contradiction, else kept; history and
    other sections are never touched.

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

    # A sentence that writes a wrong frequency is restated by the renderer like a mixed one.
    off_frequency = {s for i in report.issues if i.attribute == "frequency_hz" for s in i.spans}
    correlation_sections = [s for s in result.sections if s.kind == "correlation"]

    def inside(span: Span, sections: Iterable[Section]) -> bool:
        return any(s.start <= span[0] and span[1] <= s.end for s in sections)

    # A state contradiction re-renders the section that states it (the whole text's: the description).
    state_spans = [i.spans for i in report.issues if (i.kind, i.code) == ("contradiction", "state")]
    redo_description = (
        level >= 2
        or any(k == "omitted" for k, _ in kinds)
        or any(not spans or any(inside(s, finding_sections) for s in spans) for spans in state_spans)
        or any(inside(s, finding_sections) for s in mixed | off_frequency)
    )
    redo_impression = (
        level >= 2
        or ("contradiction", "impression") in kinds
        or any(inside(s, impression_sections) for spans in state_spans for s in spans)
        or any(inside(s, impression_sections) for s in mixed | off_frequency)
    )
    redo_correlation = ("contradiction", "clinical_correlation") in kinds
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
            start, end = _body(text, impression_sections[0])
            # an empty body is an insertion point: keep the blank line before the next heading
            edits.append((start, end, narrative.impression + ("\n" if start == end else "")))
            replaced.extend(impression_sections)
            for s in impression_sections[1:]:
                edits.append((*_body(text, s), ""))
        else:
            append.append(f"{HEADINGS['impression']}:\n{narrative.impression}\n")
    if redo_correlation:  # the renderer's correlation for the findings, in place of the whole section
        edits.append((*_body(text, correlation_sections[0]), narrative.clinical_correlation))
        for s in correlation_sections[1:]:
            edits.append((*_body(text, s), ""))
    # With the description re-rendered, a mixed sentence elsewhere can go: its supported part is restated.
    deletable = bad_only | (mixed | off_frequency if redo_description else set())
    for span in sorted(deletable):
        if not any(s.start <= span[0] and span[1] <= s.end for s in replaced):
            edits.append((*_cut(text, span), ""))
    out = text
    for start, end, new in sorted(edits, key=lambda e: e[0], reverse=True):
        out = out[:start] + new + out[end:]
    if append:
        out = _insert_impression(out, append[0])
    return "".join(prepend) + out


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
