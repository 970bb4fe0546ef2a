"""Quality masks: which channels are unusable as a whole, which stretches of time are unusable per channel.

Pure functions on arrays in µV. A channel is judged from its own samples and against the other channels;
time is judged in short windows (1 s by default) that are merged into spans. The reasons:

``missing``
    the channel is not in the file (passed in by the caller; no samples to judge).
``nan``
    samples that are NaN or infinite (a channel mostly so is bad; shorter runs give spans).
``flat``
    peak-to-peak below the amplifier's noise floor: a disconnected or shorted electrode.
``railed`` / ``clipped``
    samples piled at the channel's extreme values: the ADC's digital limits. ``railed`` when the
    channel sits at a rail most of the time (saturated amplifier), ``clipped`` when the signal hits the
    rails often enough to distort it.
``extreme_amplitude``
    amplitude far above the other channels or above any plausible cerebral signal.
``line_noise``
    power at the mains frequency dominating the channel, well beyond the other channels.

A channel bad as a whole is listed once in :attr:`QualityReport.bad_channels`; the spans list the
transient defects of the other channels.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from neuronarrator.signal.line_noise import (
    LINE_NEIGHBOURHOOD_HZ,
    LINE_NOISE_RATIO,
    LINE_RELATIVE_FACTOR,
    detect_line_freq_hz,
    line_freq_from_psd,
    line_noise_ratio,
    welch_uv2_per_hz,
)

logger = logging.getLogger(__name__)

__all__ = [
    "ChannelFlag",
    "QualityReport",
    "SpanFlag",
    "assess_quality",
    "bridge_nonfinite",
    "detect_line_freq_hz",
    "line_noise_ratio",
]

# --- thresholds ---------------------------------------------------------------------------------------
#: Span resolution. One second is the shortest stretch a reader marks on a clinical EEG page (10 s per
#: page); shorter windows make peak-to-peak estimates noisy at 100-200 Hz.
WINDOW_S = 1.0
#: Flat: peak-to-peak in a window below this. Digital EEG standards ask amplifier noise below about
#: 1.5 µV peak-to-peak (IFCN, Nuwer et al. 1998), and an electrode on a scalp shows several µV in any
#: second; electrocerebral inactivity is "no activity over 2 µV" (ACNS guideline on suspected brain
#: death), so 1 µV is below even an isoelectric record: only a disconnected or shorted input stays under.
FLAT_PTP_UV = 1.0
#: A channel whose windows are flagged for more than this fraction of the time is bad as a whole
#: ("over most of the recording"); below it, its defects are reported as spans.
BAD_CHANNEL_FRACTION = 0.5
#: A pile of identical extreme values: at least this fraction of the samples (and RAIL_MIN_SAMPLES)
#: sit exactly at the channel's minimum or maximum. A continuous signal reaches its extreme once or
#: a few times; an ADC at its digital limit repeats the limit value for every saturated sample.
RAIL_MIN_FRACTION = 1e-3
RAIL_MIN_SAMPLES = 10
#: A window is clipped when this fraction of its samples sits at a rail (4 samples of 200 at 200 Hz:
#: longer than a sharp peak's apex, which lasts one or two samples).
CLIP_WINDOW_FRACTION = 0.02
#: A channel is ``clipped`` as a whole when this fraction of all its samples sits at a rail (the waveform
#: is visibly truncated every few seconds; amplitude and spectrum are distorted).
CLIPPED_CHANNEL_FRACTION = 0.05
#: ``railed``: pinned at one rail for most of the recording (saturated amplifier, lost electrode).
RAILED_CHANNEL_FRACTION = 0.5
#: Extreme peak-to-peak in a 1-s linearly detrended window. Scalp EEG rarely exceeds 200-300 µV even in
#: high-voltage slowing or spike-wave (Schomer & Lopes da Silva, Niedermeyer's EEG, 7th ed.); eye blinks
#: reach 100-300 µV frontally; automatic rejection uses 100-150 µV on filtered epochs (MNE, EEGLAB).
#: 500 µV leaves blinks and cerebral transients alone and catches electrode pops and movement.
EXTREME_PTP_UV = 500.0
#: ``extreme_amplitude`` relative to the montage: the channel's typical (median over windows) standard
#: deviation above this multiple of the median channel's. PREP (Bigdely-Shamlo et al. 2015) flags
#: "deviation" at a robust z-score of 5; a plain ratio of 5 is a little more permissive, which suits
#: clinical montages where frontal (blinks) and occipital (alpha) channels are legitimately 2-3x larger.
EXTREME_RELATIVE_FACTOR = 5.0
#: The order in which a channel's reason is chosen when it has several (the most fundamental first).
CHANNEL_REASONS = ("missing", "nan", "railed", "flat", "clipped", "extreme_amplitude", "line_noise")
SPAN_REASONS = ("nan", "flat", "clipped", "extreme_amplitude")


@dataclass(frozen=True)
class ChannelFlag:
    """A channel unusable as a whole: ``reason`` one of :data:`CHANNEL_REASONS`, ``detail`` for people."""

    channel: str
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class SpanFlag:
    """A stretch ``[start_s, end_s)`` (seconds from the recording's start) unusable on ``channels``."""

    start_s: float
    end_s: float
    channels: tuple[str, ...]
    reason: str


@dataclass
class QualityReport:
    """What is wrong with a recording, by channel and by time.

    ``usable_fraction`` is the fraction of the *measured* channel-time (channels present in the data)
    not covered by a bad channel or a span; missing channels are listed as ``missing`` flags but have
    no time to count. ``channels`` are the channels judged, ``start_s`` the time of their first sample.
    """

    channels: tuple[str, ...] = ()
    duration_s: float = 0.0
    start_s: float = 0.0
    bad_channels: list[ChannelFlag] = field(default_factory=list)
    bad_spans: list[SpanFlag] = field(default_factory=list)
    usable_fraction: float = 1.0
    line_freq_hz: float | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def bad_channel_names(self) -> list[str]:
        """Names of the bad channels (missing ones included), in flag order, each once."""
        return list(dict.fromkeys(flag.channel for flag in self.bad_channels))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (plain lists, floats rounded to the millisecond / 1e-4)."""
        return {
            "channels": list(self.channels),
            "duration_s": round(float(self.duration_s), 3),
            "start_s": round(float(self.start_s), 3),
            "usable_fraction": round(float(self.usable_fraction), 4),
            "line_freq_hz": self.line_freq_hz,
            "bad_channels": [asdict(flag) for flag in self.bad_channels],
            "bad_spans": [
                {"start_s": round(s.start_s, 3), "end_s": round(s.end_s, 3), "channels": list(s.channels),
                 "reason": s.reason}
                for s in self.bad_spans
            ],
            "warnings": list(self.warnings),
        }  # fmt: skip


# --- helpers on arrays --------------------------------------------------------------------------------
def bridge_nonfinite(data_uv: np.ndarray, *, copy: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Replace runs of NaN/inf by straight lines between their finite neighbours, so filters don't spread them.

    Parameters
    ----------
    data_uv : ndarray, shape (n_chans, n_times)
        Signals in µV, possibly with non-finite samples.
    copy : bool
        False: work in place when ``data_uv`` is already float64 (saves one copy of a long recording).

    Returns
    -------
    bridged_uv : ndarray, shape (n_chans, n_times), float64
        Every non-finite sample linearly interpolated (held constant before the first and after the
        last finite sample). A channel with no finite sample becomes zeros.
    finite : ndarray of bool, shape (n_chans, n_times)
        Where the input was finite.
    """
    bridged = np.array(data_uv, dtype=np.float64, copy=copy)
    finite = np.isfinite(bridged)
    times = np.arange(bridged.shape[-1])
    for row in np.flatnonzero(~finite.all(axis=-1)):  # only channels with gaps: usually none
        good = finite[row]
        bridged[row] = np.interp(times, times[good], bridged[row, good]) if good.any() else 0.0
    return bridged, finite


def _window_starts(n_times: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Starts and the count of new samples of each window; a last partial window overlaps its neighbour."""
    starts = np.arange(0, n_times - window + 1, window)
    weights = np.full(starts.shape, window)
    tail = n_times - (starts[-1] + window)
    if tail > 0:
        starts = np.append(starts, n_times - window)
        weights = np.append(weights, tail)
    return starts, weights


def _windows(data: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    """(n_chans, n_windows, window) windows beginning at ``starts`` (a view where they tile the data)."""
    n_full = data.shape[-1] // window
    if len(starts) == n_full:
        return data[:, : n_full * window].reshape(data.shape[0], n_full, window)
    return np.lib.stride_tricks.sliding_window_view(data, window, axis=-1)[:, starts]


#: Channels per block in the window statistics: bounds the temporary residual to ~8 channels' worth.
_BLOCK_CHANNELS = 8


def _window_amplitudes(data: np.ndarray, starts: np.ndarray, window: int) -> tuple[np.ndarray, ...]:
    """Per window (n_chans, n_windows): peak-to-peak, and peak-to-peak and std after a linear detrend."""
    centred_t = np.arange(window) - (window - 1) / 2
    t_norm = max(float(centred_t @ centred_t), 1.0)
    ptp_w, dptp_w, std_w = (np.empty((data.shape[0], len(starts))) for _ in range(3))
    for first in range(0, data.shape[0], _BLOCK_CHANNELS):
        block = slice(first, first + _BLOCK_CHANNELS)
        win = _windows(data[block], starts, window)
        ptp_w[block] = np.ptp(win, axis=-1)
        slope = (win @ centred_t) / t_norm
        resid = win - win.mean(axis=-1, keepdims=True) - slope[..., None] * centred_t
        dptp_w[block] = np.ptp(resid, axis=-1)
        std_w[block] = resid.std(axis=-1)
    return ptp_w, dptp_w, std_w


def _span_flags(
    flags: np.ndarray,
    starts: np.ndarray,
    window: int,
    n_times: int,
    sfreq_hz: float,
    start_s: float,
    channels: tuple[str, ...],
    reason: str,
) -> list[SpanFlag]:
    """Merge flagged windows (n_chans, n_windows) into spans; a new span begins where the set of
    flagged channels changes, so every span is exact for each of its channels."""  # fmt: skip
    any_flag = flags.any(axis=0)
    if not any_flag.any():
        return []
    changes = np.flatnonzero(np.any(flags[:, 1:] != flags[:, :-1], axis=0)) + 1
    bounds = np.concatenate([[0], changes, [flags.shape[1]]])
    spans = []
    for first, last in zip(bounds[:-1], bounds[1:], strict=True):
        if not any_flag[first]:
            continue
        names = tuple(channels[i] for i in np.flatnonzero(flags[:, first]))
        begin = starts[first] / sfreq_hz
        end = min(starts[last - 1] + window, n_times) / sfreq_hz
        spans.append(
            SpanFlag(round(float(start_s + begin), 6), round(float(start_s + end), 6), names, reason)
        )
    return spans


# --- the assessment -----------------------------------------------------------------------------------
def assess_quality(
    data_uv: np.ndarray,
    sfreq_hz: float,
    channels: tuple[str, ...] | list[str],
    *,
    missing_channels: tuple[str, ...] | list[str] = (),
    line_freq_hz: float | None = None,
    window_s: float = WINDOW_S,
    start_s: float = 0.0,
) -> QualityReport:
    """Judge every channel and every window of a recording.

    Parameters
    ----------
    data_uv : ndarray, shape (n_chans, n_times)
        Signals in µV at their native rate, unfiltered (NaN/inf allowed).
    sfreq_hz : float
        Sampling rate.
    channels : sequence of str, length n_chans
        Names of the rows.
    missing_channels : sequence of str
        Channels expected but absent from the file; listed as ``missing``.
    line_freq_hz : float, optional
        Mains frequency; detected from the data when None (no line-noise check when not found).
    window_s : float
        Window length for the spans.
    start_s : float
        Time of the first sample from the recording's start (spans are in recording time).

    Returns
    -------
    QualityReport
    """
    data_uv = np.atleast_2d(np.asarray(data_uv))
    channels = tuple(channels)
    n_chans, n_times = data_uv.shape
    if n_chans != len(channels):
        raise ValueError(f"{n_chans} rows but {len(channels)} channel names")
    report = QualityReport(channels=channels, duration_s=n_times / sfreq_hz, start_s=start_s)
    flags: dict[str, ChannelFlag] = {
        ch: ChannelFlag(ch, "missing", "not in the file") for ch in missing_channels
    }
    if n_chans == 0 or n_times == 0:
        report.bad_channels = list(flags.values())
        report.usable_fraction = 0.0
        return report

    finite = np.isfinite(data_uv)
    if finite.all():  # the usual case: judge the caller's array itself, no copy
        bridged = np.asarray(data_uv, dtype=np.float64)
    else:
        bridged, _ = bridge_nonfinite(data_uv)
    window = max(1, min(n_times, int(round(window_s * sfreq_hz))))
    starts, weights = _window_starts(n_times, window)

    # window statistics: non-finite samples, peak-to-peak (flat), detrended peak-to-peak and std
    nonfinite_w = _windows(~finite, starts, window).any(axis=-1)
    ptp_w, dptp_w, std_w = _window_amplitudes(bridged, starts, window)

    # rails: samples exactly at the channel's extremes, counted only where they pile up
    low, high = bridged.min(axis=-1, keepdims=True), bridged.max(axis=-1, keepdims=True)
    tol = 1e-6 * (high - low)
    at_low, at_high = (bridged <= low + tol) & finite, (bridged >= high - tol) & finite
    n_low, n_high = at_low.sum(axis=-1), at_high.sum(axis=-1)
    pile = max(RAIL_MIN_SAMPLES, RAIL_MIN_FRACTION * n_times)
    dynamic = (high - low)[:, 0] >= FLAT_PTP_UV
    low_pile, high_pile = (n_low >= pile) & dynamic, (n_high >= pile) & dynamic
    at_rail = (at_low & low_pile[:, None]) | (at_high & high_pile[:, None])
    rail_fraction_w = _windows(at_rail, starts, window).mean(axis=-1)
    rail_fraction = at_rail.sum(axis=-1) / n_times
    del at_low, at_high, at_rail

    span_masks = {
        "nan": nonfinite_w,
        "flat": (ptp_w < FLAT_PTP_UV) & ~nonfinite_w,
        "clipped": rail_fraction_w >= CLIP_WINDOW_FRACTION,
        "extreme_amplitude": dptp_w > EXTREME_PTP_UV,
    }
    weight = weights / weights.sum()
    fraction = {reason: mask @ weight for reason, mask in span_masks.items()}
    nonfinite_fraction = (~finite).sum(axis=-1) / n_times

    # channel-level decisions, each a boolean per channel with a detail line
    robust_std = np.median(std_w, axis=-1)
    usable = (nonfinite_fraction < BAD_CHANNEL_FRACTION) & (fraction["flat"] < BAD_CHANNEL_FRACTION)
    reference_std = float(np.median(robust_std[usable])) if usable.sum() >= 3 else np.inf
    relative_amp = robust_std / max(reference_std, np.finfo(float).tiny)
    decisions: dict[str, tuple[np.ndarray, Any]] = {
        "nan": (nonfinite_fraction >= BAD_CHANNEL_FRACTION,
                lambda i: "no finite samples" if nonfinite_fraction[i] == 1 else
                f"{nonfinite_fraction[i]:.0%} of samples are NaN or infinite"),
        "railed": (dynamic & (np.maximum(n_low, n_high) / n_times >= RAILED_CHANNEL_FRACTION),
                   lambda i: f"{max(n_low[i], n_high[i]) / n_times:.0%} of samples sit at one digital limit"),
        "flat": (fraction["flat"] >= BAD_CHANNEL_FRACTION,
                 lambda i: f"peak-to-peak below {FLAT_PTP_UV:g} µV in {fraction['flat'][i]:.0%} of the time"),
        "clipped": (rail_fraction >= CLIPPED_CHANNEL_FRACTION,
                    lambda i: f"{rail_fraction[i]:.0%} of samples sit at the digital limits"),
        "extreme_amplitude": (
            (relative_amp > EXTREME_RELATIVE_FACTOR) | (fraction["extreme_amplitude"] >= BAD_CHANNEL_FRACTION),
            lambda i: f"typical amplitude {robust_std[i]:.0f} µV rms ({relative_amp[i]:.1f}x the median "
                      f"channel); peak-to-peak over {EXTREME_PTP_UV:g} µV in "
                      f"{fraction['extreme_amplitude'][i]:.0%} of the time"),
    }  # fmt: skip

    freqs_hz, psd = welch_uv2_per_hz(bridged, sfreq_hz)
    if line_freq_hz is None:
        line_freq_hz = line_freq_from_psd(freqs_hz, psd, sfreq_hz)
    report.line_freq_hz = line_freq_hz
    if line_freq_hz is not None and line_freq_hz + LINE_NEIGHBOURHOOD_HZ[0] < sfreq_hz / 2:
        ratio = line_noise_ratio(freqs_hz, psd, line_freq_hz)
        median_ratio = float(np.median(ratio[usable])) if usable.any() else 0.0
        decisions["line_noise"] = (
            (ratio >= LINE_NOISE_RATIO) & (ratio >= LINE_RELATIVE_FACTOR * median_ratio),
            lambda i: f"{line_freq_hz:g} Hz power {ratio[i]:.2f}x the 1-40 Hz power "
                      f"(median channel {median_ratio:.2f}x)",
        )  # fmt: skip
        if median_ratio >= LINE_NOISE_RATIO:
            report.warnings.append(
                f"strong {line_freq_hz:g} Hz mains noise on most channels (median {median_ratio:.2f}x the "
                "1-40 Hz power); it is notched out but check the recording's grounding"
            )

    for reason in CHANNEL_REASONS:  # first reason wins: the most fundamental defect names the channel
        if reason not in decisions:
            continue
        is_bad, detail = decisions[reason]
        for i in np.flatnonzero(is_bad):
            flags.setdefault(channels[i], ChannelFlag(channels[i], reason, detail(i)))
    report.bad_channels = list(flags.values())

    bad_rows = np.array([ch in flags for ch in channels])
    for reason in SPAN_REASONS:
        mask = span_masks[reason] & ~bad_rows[:, None]
        report.bad_spans += _span_flags(mask, starts, window, n_times, sfreq_hz, start_s, channels, reason)
    report.bad_spans.sort(key=lambda s: (s.start_s, s.reason))

    flagged = np.logical_or.reduce(list(span_masks.values())) | bad_rows[:, None]
    report.usable_fraction = float(1.0 - (flagged @ weight).mean())
    n_bad = int(bad_rows.sum())
    if n_bad:
        report.warnings.append(f"{n_bad} of {n_chans} channels bad: " + ", ".join(
            f"{f.channel} ({f.reason})" for f in report.bad_channels if f.reason != "missing"))  # fmt: skip
    if missing_channels:
        report.warnings.append(f"{len(missing_channels)} channels missing: {', '.join(missing_channels)}")
    logger.debug("quality: %d bad channels, %d spans, usable %.3f", n_bad, len(report.bad_spans),
                 report.usable_fraction)  # fmt: skip
    return report
