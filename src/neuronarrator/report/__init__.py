"""The report a clinician reads: figures of the session (:mod:`~neuronarrator.report.figures`) and one
self-contained HTML page of findings, narrative and evidence (:mod:`~neuronarrator.report.html`).

The figure functions are imported on first use (they load matplotlib).
"""

from __future__ import annotations

from typing import Any

from neuronarrator.report.html import DISCLAIMER, FINDING_NAMES, finding_name, render_html, report_figures

__all__ = [
    "DISCLAIMER",
    "FINDING_NAMES",
    "eeg_page_png",
    "finding_name",
    "render_html",
    "report_figures",
    "spectrogram_png",
    "topomaps_png",
]

_FIGURES = ("eeg_page_png", "spectrogram_png", "topomaps_png")


def __getattr__(name: str) -> Any:
    if name in _FIGURES:
        from neuronarrator.report import figures

        return getattr(figures, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
