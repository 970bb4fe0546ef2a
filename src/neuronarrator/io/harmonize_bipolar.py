"""Bipolar-only recordings (CHB-MIT's ``FP1-F7`` …, Sleep-EDF's ``Fpz-Cz``) in the bipolar view.

A derivation is a difference of two electrodes whose common reference is gone, so no referential
signal, average reference or spherical-spline interpolation exists. The file's derivations are placed
in the 18 rows of the double banana (a reversed one, ``P7-T7`` for ``T7-P7``, is negated); rows absent
from the file, or bad, are masked; the file's other derivations travel in ``extra_uv``. Filtering and
resampling are those of the referential path.
"""

from __future__ import annotations

import numpy as np

from neuronarrator.io.channels import DOUBLE_BANANA, DOUBLE_BANANA_NAMES
from neuronarrator.io.harmonize import Harmonized, Plan, provenance, read_and_judge
from neuronarrator.io.recording import Recording
from neuronarrator.signal.preprocess import notch_uv


def _place_derivations(recording: Recording) -> tuple[dict[str, tuple[str, float]], list[tuple[str, str]]]:
    """Double-banana rows found in the file as ``{row: (original label, sign)}``, and the other
    derivations as ``[(canonical, original)]``."""
    by_name = {lab.canonical: lab.original for lab in recording.eeg_labels}
    rows: dict[str, tuple[str, float]] = {}
    for anode, cathode in DOUBLE_BANANA:
        forward, reverse = f"{anode}-{cathode}", f"{cathode}-{anode}"
        if forward in by_name:
            rows[forward] = (by_name[forward], 1.0)
        elif reverse in by_name:
            rows[forward] = (by_name[reverse], -1.0)
    used = {original for original, _ in rows.values()}
    extras = [(lab.canonical, lab.original) for lab in recording.eeg_labels if lab.original not in used]
    return rows, extras


def build(recording: Recording, plan: Plan) -> Harmonized:
    """Harmonize a bipolar-only recording according to ``plan`` (see :func:`.harmonize.harmonize`)."""
    rows, extras = _place_derivations(recording)
    present = [name for name in DOUBLE_BANANA_NAMES if name in rows]
    missing = [name for name in DOUBLE_BANANA_NAMES if name not in rows]
    names = present + [canonical for canonical, _ in extras]
    originals = [rows[name][0] for name in present] + [original for _, original in extras]

    signs = np.array([rows[name][1] for name in present] + [1.0] * len(extras))
    native, quality = read_and_judge(plan, recording, originals, names, missing, signs)
    line_freq_hz = quality.line_freq_hz
    native -= native.mean(axis=-1, keepdims=True)
    if line_freq_hz is not None:
        native = notch_uv(native, plan.native_hz, line_freq_hz)
    filtered = plan.to_target(native)
    del native

    bad = set(quality.bad_channel_names)
    data_uv = np.zeros((len(DOUBLE_BANANA_NAMES), filtered.shape[-1]), dtype=np.float32)
    mask = np.zeros(len(DOUBLE_BANANA_NAMES), dtype=bool)
    for i, name in enumerate(present):
        if name not in bad:
            row = DOUBLE_BANANA_NAMES.index(name)
            data_uv[row], mask[row] = filtered[i], True
    masked = tuple(name for name, ok in zip(DOUBLE_BANANA_NAMES, mask, strict=True) if not ok)
    quality.warnings.append(
        "bipolar-only recording: no referential form exists; "
        + (f"{len(masked)} of 18 double-banana derivations masked (absent or bad)" if masked
           else "all 18 double-banana derivations present")
    )  # fmt: skip
    return Harmonized(
        data_uv=data_uv,
        sfreq_hz=plan.target_hz,
        channels=DOUBLE_BANANA_NAMES,
        montage="bipolar",
        channel_mask=mask,
        channels_missing=tuple(missing),
        channels_interpolated=(),
        channels_masked=masked,
        extra_uv=filtered[len(present) :].astype(np.float32),
        extra_channels=tuple(canonical for canonical, _ in extras),
        line_freq_hz=line_freq_hz,
        quality=quality,
        **provenance(recording, plan),
    )
