"""The report document of DESIGN.md, and the links that tie each narrative sentence to its evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from neuronarrator.clinical.findings import Finding, Findings
from neuronarrator.narrator.evidence import MIN_ROWS_SPATIAL

__all__ = ["MEASUREMENTS", "ReportDocument", "sentence_links"]

#: Values measured on the signal that the report states beside the findings (``Findings.extras``): the
#: PDR's amplitude (µV peak-to-peak above the 1/f background) and its peak over that background (dB), and
#: the mean probability of the dominant state.
MEASUREMENTS = ("pdr_amplitude_uv", "pdr_peak_to_background_db", "state_probability", "heart_rate_bpm")


@dataclass
class ReportDocument:
    """The report document of DESIGN.md, plus the links and checks that make each statement traceable.

    ``sentences``: one entry per narrative sentence that asserts a finding: its character span and text,
    the indices (into ``findings.findings``) of the predicted findings it states, and their evidence.
    ``measurements``: :data:`MEASUREMENTS` where known.
    ``faithfulness``: :attr:`~neuronarrator.clinical.faithfulness.FaithfulnessReport.counts` of the raw
    narrative (``before``) and of the repaired one (``after``).
    """

    findings: Findings
    narrative: str
    raw_narrative: str
    sentences: list[dict[str, Any]]
    faithfulness: dict[str, dict[str, int]]
    recording: dict[str, Any] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def _quality(self) -> dict[str, Any]:
        """The recording's quality, with a warning when the montage left findings unassessable."""
        codes = self.findings.extras.get("not_assessable")
        if not codes:
            return self.quality
        quality = dict(self.quality)
        quality["warnings"] = [*quality.get("warnings", []), _not_assessable_warning(list(codes))]
        quality["not_assessable"] = list(codes)
        return quality

    def to_dict(self) -> dict[str, Any]:
        from neuronarrator.clinical.label import analyze_report

        sections = {
            s.kind: self.narrative[s.start : s.end].strip() for s in analyze_report(self.narrative).sections
        }
        narrative = {"text": self.narrative, "description": sections.get("description", ""),
                     "impression": sections.get("impression", ""),
                     "clinical_correlation": sections.get("clinical_correlation", sections.get("correlation", ""))}  # fmt: skip
        return {
            "recording": self.recording,
            **self.findings.to_dict(),
            "state_predicted": bool(self.findings.extras.get("state_predicted", False)),
            "measurements": {k: self.findings.extras[k] for k in MEASUREMENTS if k in self.findings.extras},
            "narrative": narrative,
            "sentences": self.sentences,
            "faithfulness": self.faithfulness,
            "quality": self._quality(),
            "model": self.model,
            "provenance": self.provenance,
        }


def _not_assessable_warning(codes: list[str]) -> str:
    return (f"limited montage: fewer than {MIN_ROWS_SPATIAL} EEG rows, so generalized, lateralized and diffuse patterns "
            f"cannot be assessed ({', '.join(codes)} not reported)")


def sentence_links(text: str, predicted: Findings) -> list[dict[str, Any]]:
    """Each sentence that asserts a finding, with the predicted findings (same code, compatible side and
    regions) it states and their evidence; spans from the labeler (``analyze_report(text).sources_of``)."""
    from neuronarrator.clinical.faithfulness import regions_compatible, sides_compatible
    from neuronarrator.clinical.label import analyze_report

    result = analyze_report(text)
    by_span: dict[tuple[int, int], list[int]] = {}
    for f in result.findings.findings:
        matches = [i for i, p in enumerate(predicted.findings)
                   if p.code == f.code and sides_compatible(f.code, f.side, p.side)
                   and regions_compatible(f.code, f.regions, p.regions)]  # fmt: skip
        for span in result.sources_of(f):
            by_span.setdefault(tuple(span), [])
            by_span[tuple(span)].extend(i for i in matches if i not in by_span[tuple(span)])
    links = []
    for (start, end), idx in sorted(by_span.items()):
        found: list[Finding] = [predicted.findings[i] for i in idx]
        links.append({"start": start, "end": end, "text": text[start:end], "findings": idx,
                      "codes": [f.code for f in found],
                      "evidence": [e.to_dict() for f in found for e in f.evidence]})  # fmt: skip
    return links
