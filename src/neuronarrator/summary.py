"""What ``neuronarrator inspect`` reports about a file, answered from its header and a bounded sample.

Opening a file reads only its header (:func:`~neuronarrator.io.read.read_recording`). Quality is then
judged on at most ``MAX_SAMPLE_WINDOWS`` windows of ``SAMPLE_WINDOW_S`` seconds spread evenly over the
recording (the whole recording when it is short), so the answer costs the same for 20 minutes as for
24 hours. Problems that make a file unusable — no finite sample in a channel, every channel flat — are
raised as the same errors the harmonizer raises, so ``inspect`` fails where ``report`` would.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from neuronarrator.io.channels import CANONICAL_19, DOUBLE_BANANA_NAMES
from neuronarrator.io.errors import FlatSignalError, NonFiniteSignalError
from neuronarrator.io.read import read_recording
from neuronarrator.io.recording import Recording
from neuronarrator.signal.quality import ChannelFlag, QualityReport, assess_quality

logger = logging.getLogger(__name__)

SAMPLE_WINDOW_S = 10.0
MAX_SAMPLE_WINDOWS = 12
#: Recordings up to this long are judged whole (reading 2 minutes is cheap).
WHOLE_FILE_UP_TO_S = 120.0


def sample_starts_s(duration_s: float) -> list[tuple[float, float]]:
    """The (start_s, stop_s) spans judged: the whole file when short, else evenly spread windows."""
    if duration_s <= WHOLE_FILE_UP_TO_S:
        return [(0.0, duration_s)]
    starts = np.linspace(0.0, duration_s - SAMPLE_WINDOW_S, MAX_SAMPLE_WINDOWS)
    return [(float(s), float(s) + SAMPLE_WINDOW_S) for s in starts]


def sampled_quality(recording: Recording) -> tuple[QualityReport, float]:
    """Quality of the EEG channels judged on a bounded sample; returns the report and seconds judged.

    A channel is flagged when it is flagged in at least half of the windows judged.

    Raises
    ------
    NonFiniteSignalError
        A channel has no finite sample in any window judged.
    FlatSignalError
        Every EEG channel is flat.
    """
    labels = recording.eeg_labels
    originals = [lab.original for lab in labels]
    names = tuple(lab.canonical or lab.original for lab in labels)
    spans = sample_starts_s(recording.duration_s)
    reports, any_finite = [], np.zeros(len(originals), dtype=bool)
    for start_s, stop_s in spans:
        data_uv = recording.get_data_uv(originals, start_s, stop_s)
        any_finite |= np.isfinite(data_uv).any(axis=-1)
        reports.append(assess_quality(data_uv, recording.sfreq_hz, names, start_s=start_s))
    dead = [names[i] for i in np.flatnonzero(~any_finite)]
    if dead:
        raise NonFiniteSignalError(recording.path, f"channel {dead[0]} holds no finite samples (NaN or infinite)"
                                   + (f"; so do {', '.join(dead[1:])}" if len(dead) > 1 else ""))  # fmt: skip
    by_channel: dict[str, list[ChannelFlag]] = {}
    for report in reports:
        for flag in report.bad_channels:
            by_channel.setdefault(flag.channel, []).append(flag)
    n = len(reports)
    flags = []
    for channel, found in by_channel.items():
        if len(found) * 2 >= n:
            reason = Counter(f.reason for f in found).most_common(1)[0][0]
            detail = next(f.detail for f in found if f.reason == reason)
            flags.append(ChannelFlag(channel, reason, detail if n == 1 else f"{detail} (in {len(found)} of {n} windows)"))
    if names and sum(f.reason == "flat" for f in flags) == len(names):
        raise FlatSignalError(recording.path, f"all {len(names)} EEG channels are flat: there is no signal")
    line_freqs = [r.line_freq_hz for r in reports if r.line_freq_hz is not None]
    combined = QualityReport(
        channels=names,
        duration_s=sum(stop - start for start, stop in spans),
        bad_channels=flags,
        bad_spans=[span for r in reports for span in r.bad_spans],
        usable_fraction=float(np.mean([r.usable_fraction for r in reports])),
        line_freq_hz=Counter(line_freqs).most_common(1)[0][0] if line_freqs else None,
        warnings=sorted({w for r in reports for w in r.warnings}),
    )
    return combined, combined.duration_s


def inspect_file(path: str | Path) -> dict[str, Any]:
    """The JSON-ready summary ``neuronarrator inspect`` prints."""
    recording = read_recording(path)
    labels = recording.labels
    montage = recording.montage
    expected = CANONICAL_19 if montage == "referential" else DOUBLE_BANANA_NAMES
    present = {lab.canonical for lab in recording.eeg_labels}
    other: dict[str, list[str]] = {}
    for lab in labels:
        if lab.kind not in ("eeg", "bipolar"):
            other.setdefault(lab.kind, []).append(lab.original)
    quality, judged_s = sampled_quality(recording)
    events = Counter(e.description for e in recording.events)
    return {
        "file": str(recording.path),
        "format": recording.format,
        "duration_s": round(recording.duration_s, 3),
        "sfreq_hz": recording.eeg_sfreq_hz,
        "montage": montage,
        "channels_used": [name for name in expected if name in present],
        "channels_missing": [name for name in expected if name not in present],
        "channels_extra_eeg": sorted(lab.canonical for lab in recording.eeg_labels if lab.canonical not in expected),
        "channels_other": other,
        "channels": [
            {"label": lab.original, "kind": lab.kind, "canonical": lab.canonical,
             "sfreq_hz": recording.channel_sfreq_hz.get(lab.original)}
            for lab in labels
        ],  # fmt: skip
        "header": recording.header.to_dict(),
        "events": {"count": len(recording.events), "descriptions": dict(events.most_common(20))},
        "quality": {**quality.to_dict(), "seconds_judged": round(judged_s, 3),
                    "sampled": judged_s < recording.duration_s - 1e-6},  # fmt: skip
    }
