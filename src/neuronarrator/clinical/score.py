"""Clinical finding agreement between predicted and reference findings documents.

The unit is a (document, code) pair: a code counts as predicted in a document when some finding with that
code reaches the probability ``threshold`` (default 0.5, so the labeler's "possible" = 0.5 counts). Micro
F1 pools the pairs of all codes; macro F1 averages the per-code F1 over the codes that occur in the
reference or the predictions. Side accuracy is scored apart, over reference findings that have a side and
whose code was predicted: correct when a predicted finding of that code has the same side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from neuronarrator.clinical.findings import CODES, Findings


@dataclass(frozen=True)
class CodeScore:
    """Counts for one code over all documents."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        return 2 * self.tp / (2 * self.tp + self.fp + self.fn) if self.tp + self.fp + self.fn else 0.0


@dataclass(frozen=True)
class F1Report:
    """Agreement figures; ``None`` where nothing could be scored."""

    micro_f1: float
    macro_f1: float
    per_code: dict[str, CodeScore] = field(default_factory=dict)
    side_accuracy: float | None = None
    side_count: int = 0
    state_accuracy: float | None = None
    impression_accuracy: float | None = None
    documents: int = 0


def _codes(doc: Findings, threshold: float) -> set[str]:
    return {f.code for f in doc.findings if f.probability >= threshold}


def finding_f1(
    predicted: Findings | Sequence[Findings], truth: Findings | Sequence[Findings], threshold: float = 0.5
) -> F1Report:
    """Micro/macro F1 over finding codes, side accuracy, state and impression accuracy.

    Parameters
    ----------
    predicted, truth : one findings document each, or equal-length sequences of paired documents.
    threshold : probability at which a predicted (or reference) finding counts as present.
    """
    preds = [predicted] if isinstance(predicted, Findings) else list(predicted)
    refs = [truth] if isinstance(truth, Findings) else list(truth)
    if len(preds) != len(refs):
        raise ValueError(f"{len(preds)} predicted documents for {len(refs)} reference documents")
    counts = {code: [0, 0, 0] for code in CODES}
    side_hits = side_total = 0
    for p, t in zip(preds, refs, strict=True):
        pc, tc = _codes(p, threshold), _codes(t, threshold)
        for code in pc | tc:
            counts[code][0 if code in pc and code in tc else 1 if code in pc else 2] += 1
        for f in t.findings:
            if f.side is None or f.code not in pc or f.probability < threshold:
                continue
            side_total += 1
            side_hits += any(g.code == f.code and g.side == f.side for g in p.findings)
    per_code = {code: CodeScore(*c) for code, c in counts.items() if any(c)}
    tp = sum(s.tp for s in per_code.values())
    fp = sum(s.fp for s in per_code.values())
    fn = sum(s.fn for s in per_code.values())
    micro = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
    macro = sum(s.f1 for s in per_code.values()) / len(per_code) if per_code else 1.0
    n = len(refs)
    return F1Report(
        micro_f1=micro,
        macro_f1=macro,
        per_code=per_code,
        side_accuracy=side_hits / side_total if side_total else None,
        side_count=side_total,
        state_accuracy=sum(p.state == t.state for p, t in zip(preds, refs, strict=True)) / n if n else None,
        impression_accuracy=sum(p.impression == t.impression for p, t in zip(preds, refs, strict=True)) / n
        if n
        else None,
        documents=n,
    )
