"""The report's figures as PNG bytes: pure functions of a harmonized session (19 rows, 200 Hz, µV).

:func:`eeg_page_png`
    one page of EEG in the longitudinal bipolar ("double banana") montage as an electroencephalographer
    reads it: negative up, one trace per derivation with its label, the four chains and the midline pair
    set apart by a small gap, a 100 µV / 1 s calibration bar and evidence spans shaded over the
    derivations they name. The conventions are those of ``docs/make_phantom_figure.py``: a trace pitch of
    9 mm at 7 µV/mm (63 µV between baselines). A referential session is turned into the banana with
    :func:`~neuronarrator.io.channels.bipolar_matrix`; a derivation is missing when either electrode is. A
    bipolar session's rows 0-17 already are the derivations (row 18 is unused).
:func:`spectrogram_png`
    the whole session's multitaper spectrogram (CLEF's: 5-s windows, 1-s hop, 0-32 Hz, ``log(psd + 1)``),
    averaged over the rows that hold data, with the state hypnogram and a timeline of the findings'
    evidence spans under it on a shared time axis in minutes.
:func:`topomaps_png`
    scalp maps of log10 band power (delta, theta, alpha, beta) over the whole session; referential only.

Each function returns the PNG's bytes (palette-quantized: line art and colour maps need few colours, and
the report embeds every figure) and closes its figure. Matplotlib runs on the Agg backend.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neuronarrator.io.channels import (  # noqa: E402
    CANONICAL_19,
    DOUBLE_BANANA,
    DOUBLE_BANANA_NAMES,
    double_banana,
)

__all__ = ["DPI", "STATE_ORDER", "eeg_page_png", "spectrogram_png", "topomaps_png"]

#: The harmonized sampling rate (DESIGN.md, "Data contracts").
SFREQ_HZ = 200.0
#: Resolution every figure is saved at, dots per inch.
DPI = 100
SENSITIVITY_UV_PER_MM = 7.0
TRACE_SPACING_MM = 9.0
#: A small gap between the four chains and the midline pair, as on EEG review software.
CHAIN_GAP_MM = 4.0
CALIBRATION_UV = 100.0
HIGHLIGHT_COLOUR = "#fdae6b"
#: Hypnogram rows, top to bottom (wake at the top, deepest sleep at the bottom).
STATE_ORDER = ("awake", "drowsy", "rem", "n1", "n2", "n3")
STATE_COLOURS = {"awake": "#fdd49e", "drowsy": "#fee8c8", "rem": "#d4b9da", "n1": "#c6dbef", "n2": "#6baed6",
                 "n3": "#08519c"}  # fmt: skip
STATE_LABELS = {"awake": "awake", "drowsy": "drowsy", "rem": "REM", "n1": "N1", "n2": "N2", "n3": "N3"}
TOPOMAP_BANDS = ("delta", "theta", "alpha", "beta")
_GRID = 64


def _png(fig: plt.Figure, colors: int) -> bytes:
    """The figure as an optimized palette PNG of at most ``colors`` colours; the figure is closed."""
    from PIL import Image

    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=DPI)
    finally:
        plt.close(fig)
    buffer.seek(0)
    out = io.BytesIO()
    with Image.open(buffer) as image:
        image.convert("RGB").quantize(colors=colors).save(out, format="PNG", optimize=True)
    return out.getvalue()


def _plain(text: str) -> str:
    """Text shown as written: matplotlib would read a pair of ``$`` as mathtext."""
    return str(text).replace("$", r"\$")


def _clock(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes:02d}:{rest:02d}"


def _named_rows(channels: Sequence[str]) -> np.ndarray:
    """Derivations a span names: either electrode named (or the derivation itself); none named: all."""
    names = {str(c) for c in channels}
    if not names:
        return np.ones(len(DOUBLE_BANANA), bool)
    return np.array([a in names or c in names or f"{a}-{c}" in names for a, c in DOUBLE_BANANA], bool)


def _offsets_uv(spacing_uv: float) -> np.ndarray:
    gap = CHAIN_GAP_MM * SENSITIVITY_UV_PER_MM
    return np.array([-(row + 1) * spacing_uv - (row // 4 if row < 16 else 4) * gap
                     for row in range(len(DOUBLE_BANANA))])  # fmt: skip


def eeg_page_png(data_uv: np.ndarray, channel_mask: np.ndarray, montage: str, start_s: float, end_s: float,
                 highlight: Sequence[tuple[float, float, Sequence[str]]] = (), title: str = "", *,
                 sfreq_hz: float = SFREQ_HZ, offset_s: float = 0.0) -> bytes:  # fmt: skip
    """One page (``start_s`` to ``end_s``) of the session in the double banana, negative up (module
    docstring); ``highlight``: ``(start_s, end_s, channels)`` spans shaded over the derivations that
    involve a named electrode (no channels: every derivation). Missing derivations are drawn flat and
    labelled "(missing)". ``offset_s``: the time of ``data_uv``'s first sample (a page read on its own from
    a long recording; times stay those of the recording).
    """
    rows, present = double_banana(data_uv, channel_mask, montage)
    n_times = rows.shape[1]
    i0 = int(np.clip(round((start_s - offset_s) * sfreq_hz), 0, max(n_times - 1, 0)))
    i1 = int(np.clip(round((end_s - offset_s) * sfreq_hz), i0 + 1, max(n_times, i0 + 1)))
    start = offset_s + i0 / sfreq_hz
    page = rows[:, i0:i1]
    page_s = max(page.shape[1] / sfreq_hz, 1.0 / sfreq_hz)
    t = np.arange(page.shape[1]) / sfreq_hz
    spacing = TRACE_SPACING_MM * SENSITIVITY_UV_PER_MM
    offsets = _offsets_uv(spacing)

    fig, ax = plt.subplots(figsize=(10.0, 6.6))
    try:
        fig.subplots_adjust(left=0.11, right=0.985, top=0.93, bottom=0.07)
        for h_start, h_end, channels in highlight:
            a, b = max(float(h_start), start) - start, min(float(h_end), start + page_s) - start
            if b <= a:
                continue
            for row in np.flatnonzero(_named_rows(channels)):
                ax.fill_between([a, b], offsets[row] - spacing / 2, offsets[row] + spacing / 2,
                                color=HIGHLIGHT_COLOUR, alpha=0.5, lw=0, zorder=0)  # fmt: skip
        # Negative up: a derivation whose first electrode is more negative deflects upwards. Not
        # antialiased: crisp one-pixel traces, and a PNG a fifth the size.
        ax.plot(t, (offsets[present, None] - page[present]).T, color="black", lw=0.6, antialiased=False)
        for row in np.flatnonzero(~present):  # missing: flat, grey
            ax.plot([0, page_s], [offsets[row]] * 2, color="#aaaaaa", lw=0.6, antialiased=False)
        labels = [
            name if ok else f"{name} (missing)" for name, ok in zip(DOUBLE_BANANA_NAMES, present, strict=True)
        ]
        ax.set_yticks(offsets, labels, fontsize=7)
        for tick, ok in zip(ax.get_yticklabels(), present, strict=True):
            if not ok:
                tick.set_color("#888888")
        bottom = offsets[-1] - 0.8 * spacing - CALIBRATION_UV  # room for the calibration bar
        ax.set_ylim(bottom - 0.3 * spacing, offsets[0] + spacing)
        ax.set_xlim(0, page_s)
        step = 1.0 if page_s <= 20 else 5.0 if page_s <= 120 else 30.0
        ticks = np.arange(0, page_s + 1e-9, step)
        ax.set_xticks(
            ticks, [_clock(start + s) if step >= 30 else f"{start + s:g}" for s in ticks], fontsize=7
        )
        ax.grid(axis="x", color="#cccccc", lw=0.4)
        ax.tick_params(length=0, pad=1)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        # Calibration: 100 µV and 1 s, bottom right.
        bar_s = min(1.0, page_s / 4)
        x0, y0 = page_s - bar_s - 0.25 * bar_s, bottom
        ax.plot([x0, x0, x0 + bar_s], [y0 + CALIBRATION_UV, y0, y0], color="#b2182b", lw=1.2, clip_on=False)
        ax.text(x0 - 0.05 * bar_s, y0 + CALIBRATION_UV / 2, f"{CALIBRATION_UV:g} µV", ha="right",
                va="center", fontsize=7, color="#b2182b")  # fmt: skip
        ax.text(
            x0 + bar_s / 2,
            y0 + 0.08 * spacing,
            f"{bar_s:g} s",
            ha="center",
            va="bottom",
            fontsize=7,
            color="#b2182b",
        )
        ax.set_xlabel("time from the start of the recording (s)", fontsize=7, labelpad=1)
        heading = f"{_plain(title)}\n" if title else ""
        ax.set_title(f"{heading}longitudinal bipolar montage, negative up, {SENSITIVITY_UV_PER_MM:g} µV/mm "
                     f"(trace pitch {TRACE_SPACING_MM:g} mm)", fontsize=8, loc="left")  # fmt: skip
    except BaseException:
        plt.close(fig)
        raise
    return _png(fig, colors=64)


def _mean_spectrogram(data_uv: np.ndarray, channel_mask: np.ndarray, montage: str,
                      sfreq_hz: float) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:  # fmt: skip
    """(log(psd + 1) averaged over the rows holding data (F, W), freqs_hz, times_s), or None (no rows,
    or shorter than one window)."""
    from neuronarrator.signal.multitaper import WINDOW_S, multitaper_spectrogram

    data = np.asarray(data_uv)
    mask = np.asarray(channel_mask, bool)[: data.shape[0]]
    if montage == "bipolar":
        mask = mask & (np.arange(len(mask)) < len(DOUBLE_BANANA))
    rows = data[mask]
    rows = rows[np.isfinite(rows).all(axis=1)]
    if len(rows) == 0 or rows.shape[1] < WINDOW_S * sfreq_hz:
        return None
    spec = multitaper_spectrogram(rows, sfreq_hz)
    return spec.log_psd.mean(axis=0), spec.freqs_hz, spec.times_s


def spectrogram_png(data_uv: np.ndarray, channel_mask: np.ndarray, montage: str,
                    state_timeline: Sequence[Mapping[str, Any]] = (),
                    finding_spans: Mapping[str, Sequence[tuple[float, float]]] | None = None, *,
                    sfreq_hz: float = SFREQ_HZ, mean_spectrogram: tuple | None = None,
                    duration_s: float | None = None) -> bytes:  # fmt: skip
    """The whole-session spectrogram with the state hypnogram (``state_timeline``: ``{start_s, end_s,
    state}``) and one timeline row per finding code (``finding_spans``: code → ``[(start_s, end_s)]``)
    under it; time in minutes (module docstring). A long recording streamed in chunks passes its
    spectrogram already averaged over rows (``mean_spectrogram``: ``(log_psd (F, W), freqs_hz, times_s)``,
    what :func:`_mean_spectrogram` gives) and ``duration_s`` instead of ``data_uv`` (None)."""
    finding_spans = dict(finding_spans or {})
    if duration_s is None:
        duration_s = np.asarray(data_uv).shape[1] / sfreq_hz
    duration_min = max(duration_s / 60.0, 1e-3)
    n_codes = len(finding_spans)
    finding_height = 0.3 + 0.2 * max(n_codes, 1)
    fig, (ax_spec, ax_state, ax_find) = plt.subplots(
        3, 1, sharex=True, figsize=(10.0, 2.9 + 1.0 + finding_height),
        gridspec_kw={"height_ratios": [2.9, 1.0, finding_height], "hspace": 0.08},
    )  # fmt: skip
    try:
        fig.subplots_adjust(left=0.16, right=0.9, top=0.93, bottom=0.45 / (3.9 + finding_height) + 0.05)
        mean = mean_spectrogram if data_uv is None else _mean_spectrogram(data_uv, channel_mask, montage, sfreq_hz)
        if mean is None:
            ax_spec.text(0.5, 0.5, "no spectrogram: no channel holds data, or under one 5-s window",
                         ha="center", va="center", fontsize=8, transform=ax_spec.transAxes)  # fmt: skip
            ax_spec.set_yticks([])
        else:
            log_psd, freqs_hz, times_s = mean
            half = (times_s[1] - times_s[0]) / 2 if len(times_s) > 1 else 0.5
            lo, hi = np.percentile(log_psd, [2, 99.5])
            image = ax_spec.imshow(
                log_psd, origin="lower", aspect="auto", cmap="viridis", vmin=lo, vmax=max(hi, lo + 1e-6),
                extent=((times_s[0] - half) / 60, (times_s[-1] + half) / 60, freqs_hz[0], freqs_hz[-1]),
                interpolation="nearest",
            )  # fmt: skip
            bar = fig.colorbar(image, ax=[ax_spec, ax_state, ax_find], fraction=0.02, pad=0.01, anchor=(0, 1),
                               shrink=0.5)  # fmt: skip
            bar.set_label("log(PSD + 1), PSD in µV²/Hz", fontsize=7)
            bar.ax.tick_params(labelsize=6)
            ax_spec.set_ylabel("Hz", fontsize=7)
            ax_spec.set_yticks([0, 4, 8, 13, 20, 30])
        ax_spec.set_title("multitaper spectrogram (5-s windows, 1-s step, 2 Hz bandwidth), mean over "
                          "channels with data", fontsize=8, loc="left")  # fmt: skip
        ax_spec.tick_params(labelsize=6)

        # Hypnogram: one bar per span at its state's row.
        for span in state_timeline:
            state = str(span.get("state", ""))
            if state not in STATE_ORDER:
                continue
            y = STATE_ORDER.index(state)
            a, b = float(span.get("start_s", 0.0)) / 60, float(span.get("end_s", 0.0)) / 60
            if b > a:
                ax_state.broken_barh([(a, b - a)], (y - 0.4, 0.8), color=STATE_COLOURS[state], lw=0)
        ax_state.set_ylim(len(STATE_ORDER) - 0.5, -0.5)
        ax_state.set_yticks(range(len(STATE_ORDER)), [STATE_LABELS[s] for s in STATE_ORDER], fontsize=6)
        ax_state.set_ylabel("state", fontsize=7)
        if not state_timeline:
            ax_state.text(0.5, 0.5, "no state timeline", ha="center", va="center", fontsize=7,
                          transform=ax_state.transAxes)  # fmt: skip

        # Findings: one row per code.
        codes = list(finding_spans)
        for y, code in enumerate(codes):
            bars = [
                (float(a) / 60, (float(b) - float(a)) / 60)
                for a, b in finding_spans[code]
                if float(b) > float(a)
            ]
            ax_find.broken_barh(bars, (y - 0.35, 0.7), color="#e6550d", lw=0)
        ax_find.set_ylim(max(len(codes), 1) - 0.5, -0.5)
        ax_find.set_yticks(range(len(codes)), [_plain(c) for c in codes], fontsize=6)
        ax_find.set_ylabel("evidence", fontsize=7)
        if not codes:
            ax_find.text(0.5, 0.5, "no finding with evidence", ha="center", va="center", fontsize=7,
                         transform=ax_find.transAxes)  # fmt: skip
        for ax in (ax_state, ax_find):
            ax.grid(axis="x", color="#dddddd", lw=0.4)
            ax.tick_params(labelsize=6, length=2)
        ax_find.set_xlim(0, duration_min)
        ax_find.set_xlabel("time (min)", fontsize=7)
    except BaseException:
        plt.close(fig)
        raise
    return _png(fig, colors=128)


def topomaps_png(data_uv: np.ndarray | None, channel_mask: np.ndarray, montage: str = "referential", *,
                 sfreq_hz: float = SFREQ_HZ, band_power_uv2: np.ndarray | None = None) -> bytes | None:  # fmt: skip
    """Scalp maps of log10 band power (delta, theta, alpha, beta) over the whole session, head seen from
    above, nose up; None for a bipolar session (no referential form) or one with no channel holding data.
    Each map has its own colour scale; open circles mark the electrodes left out (masked). A long
    recording streamed in chunks passes its whole-session Welch band powers (``band_power_uv2``, (19, 4)
    µV² in :data:`TOPOMAP_BANDS` order, rows with non-finite samples already out of ``channel_mask``)
    instead of ``data_uv`` (None)."""
    from neuronarrator.signal.bands import BANDS_HZ
    from neuronarrator.signal.topomap import band_topomaps, projected_positions, scalp_mask, topomaps

    mask = np.asarray(channel_mask, bool).copy()
    n_rows = len(band_power_uv2) if band_power_uv2 is not None else np.asarray(data_uv).shape[0]
    if montage != "referential" or n_rows != len(CANONICAL_19):
        return None
    if band_power_uv2 is None:
        mask &= np.isfinite(np.asarray(data_uv)).all(axis=1)
    if not mask.any():
        return None
    bands = {name: BANDS_HZ[name] for name in TOPOMAP_BANDS}
    if band_power_uv2 is None:
        clean = np.where(mask[:, None], np.asarray(data_uv), 0.0).astype(np.float64)
        maps = band_topomaps(clean, sfreq_hz, CANONICAL_19, bands_hz=bands, grid_size=_GRID, channel_mask=mask)
    else:  # as band_topomaps does from the power: masked rows count as zero power
        power = np.where(mask[:, None], np.asarray(band_power_uv2, np.float64), 0.0)
        maps = topomaps(np.log10(np.maximum(power, 1e-12)).T, CANONICAL_19, _GRID, channel_mask=mask)
    inside = scalp_mask(_GRID)
    xy = projected_positions(CANONICAL_19)
    fig, axes = plt.subplots(1, len(TOPOMAP_BANDS), figsize=(10.0, 3.0))
    try:
        fig.subplots_adjust(left=0.01, right=0.96, top=0.8, bottom=0.03, wspace=0.25)
        theta = np.linspace(0, 2 * np.pi, 181)
        for ax, name, image in zip(axes, TOPOMAP_BANDS, maps, strict=True):
            shown = np.where(inside, image, np.nan)
            lo, hi = np.nanmin(shown), np.nanmax(shown)
            im = ax.imshow(shown, extent=(-1, 1, -1, 1), origin="upper", cmap="RdBu_r", vmin=lo,
                           vmax=max(hi, lo + 1e-6), interpolation="bilinear")  # fmt: skip
            ax.plot(np.cos(theta), np.sin(theta), color="black", lw=0.8)
            ax.plot([-0.09, 0.0, 0.09], [0.995, 1.1, 0.995], color="black", lw=0.8)  # nose
            ax.scatter(xy[mask, 0], xy[mask, 1], s=5, color="black", zorder=3)
            if (~mask).any():
                ax.scatter(xy[~mask, 0], xy[~mask, 1], s=14, facecolors="none", edgecolors="#555555", lw=0.7,
                           zorder=3)  # fmt: skip
            low, high = bands[name]
            ax.set_title(f"{name} {low:g}-{high:g} Hz", fontsize=8)
            ax.set_xlim(-1.15, 1.15)
            ax.set_ylim(-1.12, 1.18)
            ax.set_aspect("equal")
            ax.axis("off")
            bar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
            bar.ax.tick_params(labelsize=6)
        fig.suptitle("band power over the whole recording, log10 µV² (each map its own scale; open "
                     "circles: channels left out)", fontsize=8, x=0.01, ha="left")  # fmt: skip
    except BaseException:
        plt.close(fig)
        raise
    return _png(fig, colors=128)
