"""Referential recordings to the 19-channel harmonized form (the steps are listed in :mod:`.harmonize`)."""

from __future__ import annotations

import logging

import numpy as np

from neuronarrator.io.channels import CANONICAL_19, has_position
from neuronarrator.io.errors import NoEEGChannelsError
from neuronarrator.io.harmonize import (
    MIN_GOOD_FOR_INTERPOLATION,
    Harmonized,
    Plan,
    provenance,
    read_and_judge,
)
from neuronarrator.io.recording import Recording
from neuronarrator.signal.interpolate import spherical_spline_matrix
from neuronarrator.signal.preprocess import notch_uv
from neuronarrator.signal.quality import assess_quality, bridge_nonfinite

logger = logging.getLogger(__name__)


def _other_electrodes(
    recording: Recording, plan: Plan, line_freq_hz: float | None
) -> tuple[list[str], np.ndarray]:
    """The file's other 10-10 electrodes that can help interpolation: with a template position, finite
    somewhere, not bad by their own quality. Names and bridged µV (n, n_read)."""
    others = {lab.canonical: lab.original for lab in recording.eeg_labels
              if lab.canonical not in CANONICAL_19 and has_position(lab.canonical)}  # fmt: skip
    if not others:
        return [], np.zeros((0, plan.pad_left + plan.n_span + plan.pad_right))
    names = list(others)
    extra_uv = plan.read_uv(recording, [others[n] for n in names])
    span_uv = extra_uv[:, plan.span]
    finite_somewhere = np.isfinite(span_uv).any(axis=-1)
    bad = set(assess_quality(span_uv, plan.native_hz, names, line_freq_hz=line_freq_hz).bad_channel_names)
    keep = [i for i, name in enumerate(names) if finite_somewhere[i] and name not in bad]
    logger.debug(
        "interpolation helped by %d other electrodes (%d bad skipped)", len(keep), len(names) - len(keep)
    )
    bridged, _ = bridge_nonfinite(extra_uv[keep], copy=False)
    return [names[i] for i in keep], bridged


def _interpolate(
    recording: Recording,
    plan: Plan,
    line_freq_hz: float | None,
    bridged: np.ndarray,
    names19: list[str],
    good19: list[str],
    targets: list[str],
) -> tuple[np.ndarray, int]:
    """Spline estimates (n_targets, n_read) of ``targets`` and the number of electrodes used.

    The weights of the good electrodes of the 19 are spread into a matrix over all rows of ``bridged``
    (zero for bad rows), so that no copy of the good rows is made."""  # fmt: skip
    other_names, other_uv = _other_electrodes(recording, plan, line_freq_hz)
    weights = spherical_spline_matrix(tuple(good19) + tuple(other_names), tuple(targets))
    on_19 = np.zeros((len(targets), len(names19)))
    on_19[:, [names19.index(ch) for ch in good19]] = weights[:, : len(good19)]
    estimate = on_19 @ bridged
    if other_names:
        estimate += weights[:, len(good19) :] @ other_uv
    return estimate, len(good19) + len(other_names)


def build(recording: Recording, plan: Plan) -> Harmonized:
    """Harmonize a referential recording according to ``plan`` (see :func:`.harmonize.harmonize`)."""
    present = {lab.canonical: lab.original for lab in recording.eeg_labels if lab.canonical in CANONICAL_19}
    if not present:
        found = ", ".join(lab.canonical for lab in recording.eeg_labels[:12])
        raise NoEEGChannelsError(
            plan.path, f"none of the 19 electrodes of the 10-20 system found (EEG: {found})"
        )
    names19 = [ch for ch in CANONICAL_19 if ch in present]
    missing19 = [ch for ch in CANONICAL_19 if ch not in present]

    bridged, quality = read_and_judge(plan, recording, [present[ch] for ch in names19], names19, missing19)
    line_freq_hz = quality.line_freq_hz

    bad19 = [ch for ch in names19 if ch in set(quality.bad_channel_names)]
    good19 = [ch for ch in names19 if ch not in bad19]
    targets = [ch for ch in CANONICAL_19 if ch in set(missing19) | set(bad19)]
    interpolate = plan.missing == "interpolate" and bool(targets)
    if interpolate and len(good19) < MIN_GOOD_FOR_INTERPOLATION:
        quality.warnings.append(
            f"only {len(good19)} of the 19 electrodes are present and good (fewer than "
            f"{MIN_GOOD_FOR_INTERPOLATION}): {', '.join(targets)} masked, not interpolated"
        )
        interpolate = False

    estimate, n_sources = None, 0
    if interpolate:
        estimate, n_sources = _interpolate(recording, plan, line_freq_hz, bridged, names19, good19, targets)
    # rows in CANONICAL_19 order; with all 19 present the array read is already in that order: reuse it
    native = bridged if len(names19) == len(CANONICAL_19) else np.zeros((19, bridged.shape[-1]))
    if native is not bridged:
        native[[CANONICAL_19.index(ch) for ch in names19]] = bridged
        del bridged
    native[[CANONICAL_19.index(ch) for ch in targets]] = 0.0 if estimate is None else estimate
    del estimate
    if interpolate:
        quality.warnings.append(
            f"{', '.join(targets)} interpolated (spherical splines from {n_sources} electrodes)"
        )
    elif targets:
        quality.warnings.append(f"{', '.join(targets)} masked: zeros, False in channel_mask")

    mask = np.array([ch in good19 or (interpolate and ch in targets) for ch in CANONICAL_19])
    native -= native.mean(axis=-1, keepdims=True)  # no DC step at the ends for the notch and resampler
    if line_freq_hz is not None:
        native = notch_uv(native, plan.native_hz, line_freq_hz)
    data_uv = plan.to_target(native)
    del native
    if mask.any():  # average reference over the real and interpolated rows
        data_uv[mask] -= data_uv[mask].mean(axis=0)
    data_uv[~mask] = 0.0

    return Harmonized(
        data_uv=data_uv.astype(np.float32),
        sfreq_hz=plan.target_hz,
        channels=CANONICAL_19,
        montage="referential",
        channel_mask=mask,
        channels_missing=tuple(missing19),
        channels_interpolated=tuple(targets) if interpolate else (),
        channels_masked=() if interpolate else tuple(targets),
        extra_uv=np.zeros((0, data_uv.shape[-1]), dtype=np.float32),
        extra_channels=(),
        line_freq_hz=line_freq_hz,
        quality=quality,
        **provenance(recording, plan),
    )
