"""Files and documents of a phantom: the EDF+ recording and its truth sidecar (the report document).

``write_phantom`` writes ``rec.edf`` and ``rec.edf.truth.json`` so that both appear complete or neither
does; ``report_document`` gives the sidecar's content: the truth in the report-document shape of DESIGN.md
(recording, state, state timeline, impression, findings with evidence, narrative, quality, model) plus a
``phantom`` section with everything needed to regenerate or audit the case.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from neuronarrator.clinical.findings import ARTIFACT_CODES, Finding, Findings
from neuronarrator.clinical.phantom.canvas import Spec
from neuronarrator.io.channels import CANONICAL_19

if TYPE_CHECKING:
    from neuronarrator.clinical.phantom.generate import PhantomRecording


logger = logging.getLogger(__name__)

#: How the EDF labels the channels: TUH style, saying the reference (``-LE``: linked ears).
EDF_LABELS = tuple(f"EEG {ch}-LE" for ch in CANONICAL_19)
#: The label of the ECG lead written after the EEG channels (read as an ECG channel by its kind).
ECG_LABEL = "EKG"


def report_document(recording: PhantomRecording, file: str = "") -> dict[str, Any]:
    """The truth of ``recording`` in the shape of the report document (DESIGN.md), plus a ``phantom`` section:
    seed, reference, requested specs, subject, events, generator parameters and filters."""
    from neuronarrator.clinical.phantom.generate import HIGH_FREQUENCY_FILTER_HZ, LOW_FREQUENCY_FILTER_HZ

    doc: dict[str, Any] = {
        "recording": {
            "file": file, "duration_s": round(recording.duration_s, 3), "sfreq_hz": recording.sfreq_hz,
            "channels_used": list(recording.channels), "channels_missing": [],
        },
        **recording.truth.to_dict(),
        "narrative": _narrative(recording.truth, recording.seed, recording.subject.pdr_amplitude_uv),
        "quality": {"usable_fraction": round(_usable_fraction(recording.truth, recording.duration_s), 4),
                    "bad_channels": [], "warnings": []},
        "model": {"name": "neuronarrator-phantom (ground truth)", "checkpoint_sha256": None},
        "phantom": {
            "seed": recording.seed, "reference": recording.reference, "requested": list(recording.requested),
            "subject": recording.subject.to_dict(),
            "events": [{"onset_s": e.onset_s, "duration_s": e.duration_s, "description": e.description}
                       for e in recording.events],
            "parameters": recording.notes,
            "filters_hz": {"low_frequency": LOW_FREQUENCY_FILTER_HZ,
                           "high_frequency": HIGH_FREQUENCY_FILTER_HZ},
        },
    }  # fmt: skip
    return doc


def _usable_fraction(truth: Findings, duration_s: float) -> float:
    """Share of the record free of transient artifacts (whole-record ECG and mains do not count)."""
    spans = sorted(
        (e.start_s, e.end_s) for f in truth.findings if f.code in ARTIFACT_CODES for e in f.evidence
        if e.end_s - e.start_s < 0.9 * duration_s
    )  # fmt: skip
    covered, cursor = 0.0, 0.0
    for start, end in spans:
        start = max(start, cursor)
        if end > start:
            covered += end - start
            cursor = end
    return max(0.0, 1.0 - covered / duration_s)


def _narrative(truth: Findings, seed: int, pdr_amplitude_uv: float) -> dict[str, str]:
    """The project renderer's report text of the truth (the phrasing seeded by the phantom's seed);
    empty sections when the renderer is unavailable or fails (the truth itself must always be written)."""
    empty = {"description": "", "impression": "", "clinical_correlation": ""}
    try:
        from neuronarrator.clinical.render import render_report
    except ImportError:
        return empty
    try:
        narrative = render_report(truth, rng=seed, extras={"pdr_amplitude_uv": round(pdr_amplitude_uv)})
    except Exception as error:  # noqa: BLE001 - a renderer bug must not lose the ground truth
        logger.warning("renderer failed on the phantom truth: %s", error)
        return empty
    return narrative.to_dict()


def write_phantom(
    path: str | Path,
    findings: str | Sequence[str | Finding | Spec] | Findings | None = None,
    *,
    seed: int = 0,
    duration_s: float = 60.0,
    sfreq_hz: float = 200.0,
    overwrite: bool = False,
    **kwargs: Any,
) -> tuple[Path, Path]:
    """Generate a phantom and write ``path`` (EDF+, linked-ears labels ``EEG Fp1-LE``..., then the ECG lead
    ``EKG`` as a clinical recording has one) and the truth sidecar ``<path>.truth.json`` (the report
    document of DESIGN.md).

    Both files appear complete or not at all: the sidecar is written to a temporary file, the EDF is
    written atomically, and only then is the sidecar moved into place.

    Parameters
    ----------
    path : str or Path
        The ``.edf`` file.
    findings, seed, duration_s, sfreq_hz, **kwargs
        As :func:`generate` (``state``, ``eyes_open_s``, ``subject``).
    overwrite : bool
        Replace existing files; otherwise :class:`~neuronarrator.io.errors.OutputExistsError`.

    Returns
    -------
    (Path, Path)
        The EDF and the sidecar.
    """
    from neuronarrator.io.atomic import atomic_output
    from neuronarrator.io.errors import OutputExistsError
    from neuronarrator.io.write import write_edf

    path = Path(path)
    sidecar = truth_path(path)
    for target in (path, sidecar):
        if target.exists() and not overwrite:
            raise OutputExistsError(target)
    from neuronarrator.clinical.phantom.generate import generate

    recording = generate(findings, seed=seed, duration_s=duration_s, sfreq_hz=sfreq_hz, **kwargs)
    document = recording.report_document(file=path.name)
    with atomic_output(sidecar, force=overwrite) as tmp:
        tmp.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        data_uv, labels = recording.data_uv, EDF_LABELS
        if recording.ecg_uv is not None:
            data_uv, labels = np.vstack([data_uv, recording.ecg_uv[None]]), (*EDF_LABELS, ECG_LABEL)
        write_edf(path, data_uv, sfreq_hz, labels, events=recording.events, overwrite=overwrite,
                  device="neuronarrator-phantom")  # fmt: skip
    logger.info("wrote phantom %s (%s) and %s", path, ", ".join(sorted(recording.truth.codes)), sidecar)
    return path, sidecar


def truth_path(path: str | Path) -> Path:
    """The sidecar of an EDF: ``rec.edf`` -> ``rec.edf.truth.json``."""
    path = Path(path)
    return path.with_name(path.name + ".truth.json")
