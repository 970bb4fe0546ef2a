"""NeuroNarrator inference: a recording → findings with evidence → a narrative checked against them."""

from neuronarrator.narrator.evidence import SegmentPredictions, aggregate_presence, session_findings
from neuronarrator.narrator.pipeline import Narrator, ReportDocument, narrate_recording, segment_predictions

__all__ = [
    "Narrator",
    "ReportDocument",
    "SegmentPredictions",
    "aggregate_presence",
    "narrate_recording",
    "segment_predictions",
    "session_findings",
]
