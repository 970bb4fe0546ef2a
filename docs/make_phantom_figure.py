"""Make ``docs/phantom_cases.png``: phantom cases as an electroencephalographer sees them.

Each panel is one 10-s page in the longitudinal bipolar ("double banana") montage, negative up, at a
true 7 µV/mm and 15 mm/s when the PNG is shown at its nominal size (``DPI`` dots per inch), with
channel labels, a 100 µV / 1 s calibration bar and the filter settings. The evidence spans of the
truth are shaded under the channels they name, so one can check by eye that the truth is where the
waves are.

Run: ``.venv/bin/python docs/make_phantom_figure.py [--out docs/phantom_cases.png]``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neuronarrator.clinical.phantom import PhantomRecording, generate  # noqa: E402
from neuronarrator.io.channels import DOUBLE_BANANA, DOUBLE_BANANA_NAMES, bipolar_matrix  # noqa: E402

MM_PER_INCH = 25.4
DPI = int(__import__("os").environ.get("PHANTOM_FIG_DPI", "100"))
SENSITIVITY_UV_PER_MM = 7.0
SPEED_MM_PER_S = 25.0
PAGE_S = 10.0
TRACE_SPACING_MM = 9.0
#: A small gap in the display between the four chains and the midline pair, as on EEG review software.
CHAIN_GAP_MM = 4.0

#: Shading colour of each code's evidence.
EVIDENCE_COLOURS = {
    "eye_blink_artifact": "#9ecae1", "pdr_reactive": "#c7e9c0", "sleep_spindles": "#fdd0a2",
    "k_complexes": "#fcbba1", "vertex_waves": "#dadaeb", "focal_epileptiform": "#fc9272",
    "generalized_spike_wave": "#fc9272", "seizure": "#fdae6b", "lpd": "#fc9272", "gpd": "#fc9272",
    "muscle_artifact": "#bcbddc", "electrode_artifact": "#fdd0a2", "focal_slowing": "#ffffff",
}  # fmt: skip


@dataclass(frozen=True)
class Case:
    title: str
    findings: str
    seed: int
    duration_s: float
    page_start_s: float | None = None  # None: chosen from the truth by ``anchor``
    anchor: str | None = None  # code whose first evidence the page is placed around
    lead_s: float = 3.0  # seconds of page before the anchor
    state: str | None = None
    eyes_open_s: tuple[tuple[float, float], ...] | None = None
    late: bool = False  # place the page at the end of the anchor span (a seizure's late phase)


CASES = (
    Case("Normal awake: 10-11 Hz PDR blocks on eye opening; blinks", "", 3, 30.0, 3.0, eyes_open_s=((8.0, 14.0),)),
    Case("N2 sleep: K-complex, spindle (central), vertex wave", "sleep_spindles,k_complexes", 13, 60.0, 21.0),
    Case("Left temporal polymorphic delta + sharp waves (T7)",
         "focal_slowing:left:temporal,focal_epileptiform:left:temporal", 5, 60.0, anchor="focal_epileptiform",
         lead_s=2.0),
    Case("Generalized 3 Hz spike-and-wave", "generalized_spike_wave", 3, 30.0, anchor="generalized_spike_wave",
         lead_s=2.0),
    Case("Right temporal seizure: onset (low-voltage fast -> rhythmic theta at T8)", "seizure:right:temporal", 3,
         60.0, anchor="seizure", lead_s=3.0, eyes_open_s=()),
    Case("Same seizure, its last 8 s: slower, larger, wider; abrupt end, postictal slowing",
         "seizure:right:temporal", 3, 60.0, anchor="seizure", lead_s=8.0, eyes_open_s=(), late=True),
    Case("Burst suppression", "burst_suppression", 1, 30.0, 5.0),
    Case("Left LPDs (~1 Hz)", "lpd:left:temporal", 6, 30.0, 5.0),
    Case("Triphasic GPDs (~1.5 Hz) on a diffusely slow background", "gpd,generalized_slowing", 10, 30.0, 5.0),
    Case("Artifacts: muscle (frontalis/temporalis), electrode pops at O1; ECG (small)", "muscle_artifact,electrode_artifact:O1,ecg_artifact", 7, 30.0,
         anchor="electrode_artifact", lead_s=4.0),
)  # fmt: skip


def page_start(case: Case, recording: PhantomRecording) -> float:
    """Where the page starts: fixed, or around the first (or, for ``late``, the end of the) anchor span."""
    if case.page_start_s is not None:
        return case.page_start_s
    finding = recording.truth.get(case.anchor)
    if finding is None or not finding.evidence:
        return 0.0
    at = finding.evidence[-1].end_s if case.late else finding.evidence[0].start_s
    return float(np.clip(np.floor(at - case.lead_s), 0.0, recording.duration_s - PAGE_S))  # whole seconds


def draw_page(ax: plt.Axes, case: Case, recording: PhantomRecording) -> None:
    """One 10-s double-banana page; y in µV (negative up), x in seconds."""
    start = page_start(case, recording)
    sfreq = recording.sfreq_hz
    i0 = int(round(start * sfreq))
    i1 = i0 + int(round(PAGE_S * sfreq))
    bipolar = bipolar_matrix() @ recording.data_uv[:, i0:i1].astype(np.float64)
    t = np.arange(i1 - i0) / sfreq
    spacing = TRACE_SPACING_MM * SENSITIVITY_UV_PER_MM
    offsets = []
    for row in range(len(DOUBLE_BANANA)):
        gap = (
            (row // 4) * CHAIN_GAP_MM * SENSITIVITY_UV_PER_MM
            if row < 16
            else 4 * CHAIN_GAP_MM * SENSITIVITY_UV_PER_MM
        )
        offsets.append(-(row + 1) * spacing - gap)
    offsets = np.array(offsets)
    # Evidence shading: each span under the derivations that involve one of its channels.
    for finding in recording.truth.findings:
        colour = EVIDENCE_COLOURS.get(finding.code)
        if colour is None or colour == "#ffffff":
            continue
        for ev in finding.evidence:
            a, b = max(ev.start_s, start) - start, min(ev.end_s, start + PAGE_S) - start
            if b <= a:
                continue
            for row, (anode, cathode) in enumerate(DOUBLE_BANANA):
                if anode in ev.channels or cathode in ev.channels:
                    ax.fill_between([a, b], offsets[row] - spacing / 2, offsets[row] + spacing / 2, color=colour,
                                    alpha=0.45, lw=0, zorder=0)  # fmt: skip
    # Negative up: a derivation whose first electrode is more negative deflects upwards.
    ax.plot(t, (offsets[:, None] - bipolar).T, color="black", lw=0.45)
    ax.set_yticks(offsets, DOUBLE_BANANA_NAMES, fontsize=6.5)
    ax.set_ylim(offsets[-1] - spacing, offsets[0] + spacing)
    ax.set_xlim(0, PAGE_S)
    ax.set_xticks(np.arange(0, PAGE_S + 0.1, 1.0), [f"{start + s:g}" for s in np.arange(0, PAGE_S + 0.1, 1.0)],
                  fontsize=6)  # fmt: skip
    ax.grid(axis="x", color="#cccccc", lw=0.4)
    ax.tick_params(length=0, pad=1)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    # Calibration: 100 µV and 1 s, bottom right.
    x0, y0 = PAGE_S - 1.25, offsets[-1] - 0.55 * spacing
    ax.plot([x0, x0, x0 + 1.0], [y0 + 100.0, y0, y0], color="#b2182b", lw=1.2, clip_on=False)
    ax.text(x0 - 0.05, y0 + 50, "100 µV", ha="right", va="center", fontsize=6, color="#b2182b")
    ax.text(x0 + 0.5, y0 - 8, "1 s", ha="center", va="top", fontsize=6, color="#b2182b")
    for event in recording.events:
        if start <= event.onset_s < start + PAGE_S:
            ax.axvline(event.onset_s - start, color="#2166ac", lw=0.8, ls="--")
            ax.text(event.onset_s - start + 0.05, offsets[0] + 0.8 * spacing, event.description, fontsize=6,
                    color="#2166ac", va="bottom")  # fmt: skip
    codes = ", ".join(sorted(recording.truth.codes))
    ax.set_title(f"{case.title}\nseed {case.seed}, state {recording.truth.state}; truth: {codes}", fontsize=7.5,
                 loc="left")  # fmt: skip
    ax.set_xlabel("s", fontsize=6, labelpad=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("phantom_cases.png"))
    args = parser.parse_args()
    n_cols = 2
    n_rows = int(np.ceil(len(CASES) / n_cols))
    width_mm = PAGE_S * SPEED_MM_PER_S
    height_mm = (len(DOUBLE_BANANA) + 2) * TRACE_SPACING_MM + 5 * CHAIN_GAP_MM
    left_mm, top_mm, gap_x_mm, gap_y_mm = 16.0, 22.0, 22.0, 24.0
    fig_w = (left_mm + n_cols * (width_mm + gap_x_mm)) / MM_PER_INCH
    fig_h = (top_mm + n_rows * (height_mm + gap_y_mm)) / MM_PER_INCH
    fig = plt.figure(figsize=(fig_w, fig_h), dpi=DPI)
    for k, case in enumerate(CASES):
        row, col = divmod(k, n_cols)
        x = (left_mm + col * (width_mm + gap_x_mm)) / MM_PER_INCH / fig_w
        y = 1.0 - (top_mm + gap_y_mm * 0.75 + row * (height_mm + gap_y_mm) + height_mm) / MM_PER_INCH / fig_h
        ax = fig.add_axes((x, y, width_mm / MM_PER_INCH / fig_w, height_mm / MM_PER_INCH / fig_h))
        kwargs = {"state": case.state} if case.state else {}
        if case.eyes_open_s is not None:
            kwargs["eyes_open_s"] = case.eyes_open_s
        recording = generate(case.findings, seed=case.seed, duration_s=case.duration_s, **kwargs)
        draw_page(ax, case, recording)
    fig.suptitle(
        f"neuronarrator phantom — longitudinal bipolar montage, negative up; 10-s pages at "
        f"{SENSITIVITY_UV_PER_MM:g} µV/mm, {SPEED_MM_PER_S:g} mm/s (at {DPI} dpi); LFF 0.5 Hz, HFF 70 Hz; "
        "recorded against linked ears.\nShading: where the truth's evidence says each finding is (span x channels).",
        x=left_mm / MM_PER_INCH / fig_w, y=1.0 - 4.0 / MM_PER_INCH / fig_h, ha="left", va="top", fontsize=9,
    )  # fmt: skip
    fig.savefig(args.out, dpi=DPI)
    # Line art needs few colours: an adaptive 64-colour palette keeps the PNG small.
    from PIL import Image

    with Image.open(args.out) as image:
        image.convert("RGB").quantize(colors=64).save(args.out, optimize=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
