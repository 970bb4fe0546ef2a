"""The harmonized recording (DESIGN.md, "Data contracts"): 19 channels of the 10-20 system in a fixed order,
200 Hz, float32 µV, average reference, with its quality report and what was interpolated or masked.

The steps, and why in this order:

1. pick the referential EEG electrodes, read the selected span in µV at the file's rate (plus a few
   seconds of context either side, so that filters settle before the span's edges);
2. judge quality on the untouched native-rate samples (non-finite, flat, railed, extreme, mains);
3. bridge NaN/inf runs with straight lines so that no filter spreads them;
4. replace missing and bad electrodes by spherical-spline interpolation from the good ones (any 10-10
   electrode of the file helps) — done at the native rate, which is exact because interpolation is a
   fixed linear combination of channels and commutes with every filter below — or zero them and mark
   them in ``channel_mask`` (``missing="mask"``, or too few good electrodes to interpolate from);
5. notch the mains frequency and its harmonics below the native Nyquist (the resampler would fold them);
6. resample to 200 Hz (polyphase), then band-pass at 200 Hz (cheaper than at a high native rate; the
   upper edge capped at 0.45 x the lower of the two rates, so no band beyond the file's content is
   claimed);
7. cut the context away, re-reference to the average of the real and interpolated electrodes.

Bipolar-only files (CHB-MIT, Sleep-EDF) have no referential form: they come out as the 18-derivation
double banana (absent derivations masked) plus their other derivations in ``extra_uv``; see
:mod:`neuronarrator.io.harmonize_bipolar`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neuronarrator.io.channels import DOUBLE_BANANA_NAMES, bipolar_matrix
from neuronarrator.io.errors import (
    FlatSignalError,
    NoEEGChannelsError,
    NonFiniteSignalError,
    RecordingTooShortError,
    SamplingRateError,
)
from neuronarrator.io.recording import Event, Header, Recording
from neuronarrator.signal.quality import QualityReport

logger = logging.getLogger(__name__)

#: The contract's rate: CLEF's spectrograms and the 10 s = 2,000-sample segments assume it.
TARGET_SFREQ_HZ = 200.0
#: Below 100 Hz sampling the 0.5-45 Hz clinical band (delta to low gamma) is no longer representable.
MIN_SFREQ_HZ = 100.0
#: One segment (DESIGN.md): anything shorter cannot be analysed.
MIN_DURATION_S = 10.0
#: Interpolating from fewer than 10 measured electrodes of the 19 extrapolates over whole regions (the
#: spline's error grows with the distance to the nearest measured electrode; Perrin et al. 1989), so
#: then the missing ones are masked instead.
MIN_GOOD_FOR_INTERPOLATION = 10
#: Low-pass edge as a fraction of the rate: the FIR's transition band (25 % of the edge, MNE's default)
#: must end below Nyquist.
H_FREQ_NYQUIST_FRACTION = 0.45
#: Context read either side of the span: half the 0.5 Hz high-pass FIR (6.6 s long) plus margin.
PAD_S = 5.0
#: Samples beyond 1 V (10^6 µV) count as missing: EEG amplifiers (DC-coupled ones included) stay far below.
MAX_ABS_UV = 1e6
MISSING_POLICIES = ("interpolate", "mask")


@dataclass
class Harmonized:
    """One harmonized recording (or one span of it).

    Attributes
    ----------
    data_uv : ndarray, shape (n_chans, n_times), float32
        µV at ``sfreq_hz``. Referential: (19, n) in :data:`CANONICAL_19` order, average reference.
        Bipolar-only: (18, n) in double-banana order. Masked rows hold zeros.
    sfreq_hz : float
    channels : tuple of str
        Row names.
    montage : str
        ``"referential"`` or ``"bipolar"``.
    channel_mask : ndarray of bool, shape (n_chans,)
        True where the row holds real or interpolated data; False rows are zeros, never data.
    channels_missing : tuple of str
        Rows absent from the file.
    channels_interpolated : tuple of str
        Rows estimated by spherical splines (missing or bad).
    channels_masked : tuple of str
        Rows set to zero and False in ``channel_mask`` (missing or bad, not interpolated).
    extra_uv : ndarray, shape (n_extra, n_times), float32
        Bipolar-only: derivations present but outside the double banana (e.g. Sleep-EDF's ``Fpz-Cz``).
        Empty for referential recordings.
    extra_channels : tuple of str
    line_freq_hz : float or None
        Mains frequency notched (given or detected); None when none was found or visible.
    quality : QualityReport
        Judged on the native-rate samples of the file's channels; times in recording seconds.
    events : list of Event
        The recording's annotations overlapping the span, times unchanged (seconds from its start).
    source_path : Path
    source_sfreq_hz : float
        The EEG channels' rate in the file.
    header : Header
    start_s : float
        Time of the first sample from the recording's start (non-zero for a chunk).
    band_hz : tuple
        The band-pass applied, ``(l_freq_hz, h_freq_hz)`` (None for an edge not applied).
    """

    data_uv: np.ndarray
    sfreq_hz: float
    channels: tuple[str, ...]
    montage: str
    channel_mask: np.ndarray
    channels_missing: tuple[str, ...] = ()
    channels_interpolated: tuple[str, ...] = ()
    channels_masked: tuple[str, ...] = ()
    extra_uv: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    extra_channels: tuple[str, ...] = ()
    line_freq_hz: float | None = None
    quality: QualityReport = field(default_factory=QualityReport)
    events: list[Event] = field(default_factory=list)
    source_path: Path = Path("<array>")
    source_sfreq_hz: float = 0.0
    header: Header = field(default_factory=Header)
    start_s: float = 0.0
    band_hz: tuple[float | None, float | None] = (None, None)

    @property
    def referential_available(self) -> bool:
        """False for a bipolar-only recording: there is no per-electrode signal."""
        return self.montage == "referential"

    @property
    def n_times(self) -> int:
        return int(self.data_uv.shape[-1])

    @property
    def duration_s(self) -> float:
        return self.n_times / self.sfreq_hz

    def bipolar(self) -> tuple[np.ndarray, tuple[str, ...]]:
        """The double banana: data (18, n_times) float32 µV and the derivation names.

        Derived as ``bipolar_matrix() @ data_uv`` from the referential rows; a derivation touching a
        masked electrode is zero and False in :meth:`bipolar_mask`. A bipolar-only recording returns its
        own rows.
        """
        if not self.referential_available:
            return self.data_uv, self.channels
        bipolar_uv = bipolar_matrix(self.channels) @ self.data_uv
        bipolar_uv[~self.bipolar_mask()] = 0.0
        return bipolar_uv.astype(np.float32, copy=False), DOUBLE_BANANA_NAMES

    def bipolar_mask(self) -> np.ndarray:
        """(18,) bool: True where both electrodes of the derivation carry data."""
        if not self.referential_available:
            return self.channel_mask
        involved = np.abs(bipolar_matrix(self.channels)) > 0
        return ~(involved & ~self.channel_mask[None, :]).any(axis=1)

    def to_dict(self) -> dict[str, Any]:
        """The metadata (no arrays), JSON-ready."""
        return {
            "source_path": str(self.source_path),
            "source_sfreq_hz": self.source_sfreq_hz,
            "sfreq_hz": self.sfreq_hz,
            "start_s": round(self.start_s, 6),
            "n_times": self.n_times,
            "duration_s": round(self.duration_s, 6),
            "montage": self.montage,
            "referential_available": self.referential_available,
            "channels": list(self.channels),
            "channel_mask": [bool(v) for v in self.channel_mask],
            "channels_missing": list(self.channels_missing),
            "channels_interpolated": list(self.channels_interpolated),
            "channels_masked": list(self.channels_masked),
            "extra_channels": list(self.extra_channels),
            "line_freq_hz": self.line_freq_hz,
            "band_hz": list(self.band_hz),
            "quality": self.quality.to_dict(),
            "events": [{"onset_s": e.onset_s, "duration_s": e.duration_s, "description": e.description}
                       for e in self.events],
            "header": self.header.to_dict(),
        }  # fmt: skip


@dataclass(frozen=True)
class Plan:
    """What to read and how to filter it, fixed before any sample is read (shared with the bipolar path)."""

    path: Path
    native_hz: float  # the rate of the arrays MNE returns
    source_hz: float  # the EEG channels' own rate (lower than native_hz in a multi-rate EDF)
    target_hz: float
    start: int  # first sample of the span, native rate
    stop: int
    pad_left: int  # context samples read before/after the span
    pad_right: int
    up: int
    down: int
    line_freq_hz: float | None
    l_freq_hz: float | None
    h_freq_hz: float | None
    missing: str

    @property
    def n_span(self) -> int:
        return self.stop - self.start

    @property
    def span(self) -> slice:
        """The span within the array read (which includes the context)."""
        return slice(self.pad_left, self.pad_left + self.n_span)

    @property
    def start_s(self) -> float:
        return self.start / self.native_hz

    def read_uv(self, recording: Recording, originals: list[str]) -> np.ndarray:
        """(n, pad_left + n_span + pad_right) float64 µV of the named channels."""
        first = self.start - self.pad_left
        last = self.stop + self.pad_right
        return recording.get_data_uv(originals, first / self.native_hz, last / self.native_hz)

    def to_target(self, data_uv: np.ndarray) -> np.ndarray:
        """Resample the read array to the target rate, band-pass it, and cut the context away."""
        from neuronarrator.signal.preprocess import bandpass_uv, resample_uv

        out = resample_uv(data_uv, self.native_hz, self.target_hz)
        out = bandpass_uv(np.ascontiguousarray(out), self.target_hz, self.l_freq_hz, self.h_freq_hz)
        first = self.pad_left * self.up // self.down  # exact: pad_left is a multiple of down
        n_out = min(math.ceil(self.n_span * self.up / self.down), out.shape[-1] - first)
        return out[:, first : first + n_out]


def make_plan(
    recording: Recording,
    *,
    sfreq_hz: float,
    line_freq_hz: float | None,
    l_freq_hz: float | None,
    h_freq_hz: float | None,
    missing: str,
    start_s: float,
    stop_s: float | None,
) -> Plan:
    """Check the recording against the contract's preconditions and fix the span and filters.

    Raises
    ------
    NoEEGChannelsError, SamplingRateError, RecordingTooShortError
    ValueError
        For arguments out of range (a caller's mistake, not the file's).
    """  # fmt: skip
    from neuronarrator.signal.preprocess import resample_factors

    path = recording.path
    if missing not in MISSING_POLICIES:
        raise ValueError(f"missing must be one of {MISSING_POLICIES}, got {missing!r}")
    if not recording.eeg_labels:
        found = ", ".join(lab.original for lab in recording.labels[:12]) or "none"
        raise NoEEGChannelsError(path, f"no EEG channel recognised among the file's channels ({found})")
    source_hz = recording.eeg_sfreq_hz
    if source_hz < MIN_SFREQ_HZ:
        raise SamplingRateError(
            path, f"EEG sampled at {source_hz:g} Hz; at least {MIN_SFREQ_HZ:g} Hz is needed for the "
            f"{sfreq_hz:g} Hz harmonized form",
        )  # fmt: skip
    native_hz = recording.sfreq_hz
    if recording.n_times <= 0:  # a file opened with strict=False may hold no samples: the file's problem
        raise RecordingTooShortError(path, f"the recording holds no samples; at least {MIN_DURATION_S:g} s is needed")
    start = int(round(start_s * native_hz))
    stop = recording.n_times if stop_s is None else min(int(round(stop_s * native_hz)), recording.n_times)
    if start < 0 or start >= recording.n_times:
        raise ValueError(f"start_s={start_s} lies outside the recording (0 to {recording.duration_s:g} s)")
    if stop <= start:
        raise ValueError(f"stop_s={stop_s} is not after start_s={start_s}")
    # in samples, forgiving one for rounding: 10 s at 173.61 Hz is 1,736 samples, or 9.9994 s
    if stop - start < round(MIN_DURATION_S * native_hz) - 1:
        what = (
            "the recording lasts" if start == 0 and stop == recording.n_times else "the span selected lasts"
        )
        raise RecordingTooShortError(
            path,
            f"{what} {round((stop - start) / native_hz, 3):g} s; at least {MIN_DURATION_S:g} s is needed",
        )
    up, down = resample_factors(native_hz, sfreq_hz)
    pad = math.ceil(PAD_S * native_hz / down) * down
    nyquist_cap = H_FREQ_NYQUIST_FRACTION * min(source_hz, native_hz, sfreq_hz)
    h_eff = None if h_freq_hz is None else min(h_freq_hz, nyquist_cap)
    if h_eff is not None and l_freq_hz is not None and l_freq_hz >= h_eff:
        raise ValueError(f"l_freq_hz={l_freq_hz} is not below the low-pass edge {h_eff:g} Hz")
    return Plan(
        path=path, native_hz=native_hz, source_hz=source_hz, target_hz=sfreq_hz, start=start, stop=stop,
        pad_left=min(pad, (start // down) * down), pad_right=min(pad, recording.n_times - stop), up=up,
        down=down, line_freq_hz=line_freq_hz, l_freq_hz=l_freq_hz, h_freq_hz=h_eff, missing=missing,
    )  # fmt: skip


def check_finite(plan: Plan, span_uv: np.ndarray, names: list[str] | tuple[str, ...]) -> None:
    """NonFiniteSignalError naming the first channel with no finite sample in the span."""
    dead = np.flatnonzero(~np.isfinite(span_uv).any(axis=-1))
    if dead.size:
        others = f" (and {dead.size - 1} more)" if dead.size > 1 else ""
        raise NonFiniteSignalError(
            plan.path, f"channel {names[dead[0]]} holds no finite samples (or none within ±1 V){others}"
        )


def check_not_all_flat(plan: Plan, quality: QualityReport) -> None:
    """FlatSignalError when every channel judged is flat (or pinned at a rail)."""
    reasons = {flag.channel: flag.reason for flag in quality.bad_channels}
    if quality.channels and all(reasons.get(ch) in ("flat", "railed") for ch in quality.channels):
        raise FlatSignalError(
            plan.path, f"every EEG channel is flat ({len(quality.channels)} channels, peak-to-peak below "
            "1 µV or pinned at a digital limit): there is no signal to analyse",
        )  # fmt: skip


def read_and_judge(
    plan: Plan,
    recording: Recording,
    originals: list[str],
    names: list[str],
    missing: list[str],
    signs: np.ndarray | None = None,
) -> tuple[np.ndarray, QualityReport]:
    """Read the span (with its context) in µV, judge its quality, refuse unusable data, bridge NaN runs.

    The steps both montages share. ``signs`` (±1 per row) flips derivations stored reversed
    (``F7-FP1``) before anything is judged.

    Returns
    -------
    native_uv : ndarray, shape (n_chans, n_read)
        At the native rate, context included, non-finite runs bridged.
    quality : QualityReport
        Judged on the span only.

    Raises
    ------
    NonFiniteSignalError, FlatSignalError
    """
    from neuronarrator.signal.quality import assess_quality, bridge_nonfinite

    read_uv = plan.read_uv(recording, originals)
    # Beyond ±1 V a sample is not EEG but an absurd scaling in the header (an EDF physical maximum of
    # 1e308 µV): treat it as missing, or the filters overflow and the float32 output holds inf.
    read_uv[np.abs(read_uv) > MAX_ABS_UV] = np.nan
    check_finite(plan, read_uv[:, plan.span], names)
    if signs is not None:
        read_uv *= signs[:, None]
    quality = assess_quality(
        read_uv[:, plan.span], plan.native_hz, names, missing_channels=missing,
        line_freq_hz=plan.line_freq_hz, start_s=plan.start_s,
    )  # fmt: skip
    check_not_all_flat(plan, quality)
    native_uv, _ = bridge_nonfinite(read_uv, copy=False)
    return native_uv, quality


def events_in_span(recording: Recording, plan: Plan) -> list[Event]:
    """The annotations overlapping the span, times unchanged."""
    begin, end = plan.start / plan.native_hz, plan.stop / plan.native_hz
    return [e for e in recording.events if e.onset_s < end and e.onset_s + e.duration_s >= begin]


def provenance(recording: Recording, plan: Plan) -> dict[str, Any]:
    """The :class:`Harmonized` fields that say where the span came from, the same for both montages."""
    return {
        "events": events_in_span(recording, plan),
        "source_path": plan.path,
        "source_sfreq_hz": plan.source_hz,
        "header": recording.header,
        "start_s": plan.start_s,
        "band_hz": (plan.l_freq_hz, plan.h_freq_hz),
    }


def harmonize(
    recording: Recording,
    *,
    sfreq_hz: float = TARGET_SFREQ_HZ,
    line_freq_hz: float | None = None,
    l_freq_hz: float | None = 0.5,
    h_freq_hz: float | None = 70.0,
    missing: str = "interpolate",
    start_s: float = 0.0,
    stop_s: float | None = None,
) -> Harmonized:
    """Bring a recording (or the span ``[start_s, stop_s)`` of it) to the harmonized form.

    Parameters
    ----------
    recording : Recording
    sfreq_hz : float
        Output rate (the contract: 200 Hz).
    line_freq_hz : float, optional
        Mains frequency to notch (50 or 60 Hz); detected from the spectra when None.
    l_freq_hz, h_freq_hz : float or None
        Band-pass edges; the upper one is capped at 0.45 x min(file rate, output rate). None skips an edge.
    missing : {"interpolate", "mask"}
        What to do with electrodes of the 19 that are absent or bad: spherical-spline interpolation, or
        zeros marked False in ``channel_mask``. Either way they are reported.
    start_s, stop_s : float
        The span to harmonize (seconds from the start; ``stop_s=None``: to the end). Filters see up to
        5 s of context either side, so consecutive chunks join without edge transients. Quality, and
        so the channels interpolated, is judged per chunk; pass the ``line_freq_hz`` found on the first
        chunk to the others so that all are notched alike.

    Returns
    -------
    Harmonized

    Raises
    ------
    NoEEGChannelsError
        No EEG channel, or none of the 19 electrodes in a referential file.
    SamplingRateError
        EEG sampled below 100 Hz.
    RecordingTooShortError
        Less than 10 s to harmonize.
    NonFiniteSignalError
        A channel with no finite sample in the span.
    FlatSignalError
        Every channel flat.
    """
    plan = make_plan(
        recording, sfreq_hz=sfreq_hz, line_freq_hz=line_freq_hz, l_freq_hz=l_freq_hz, h_freq_hz=h_freq_hz,
        missing=missing, start_s=start_s, stop_s=stop_s,
    )  # fmt: skip
    from neuronarrator.io import harmonize_bipolar, harmonize_referential

    builders = {"referential": harmonize_referential.build, "bipolar": harmonize_bipolar.build}
    harmonized = builders[recording.montage](recording, plan)
    logger.info(
        "%s: harmonized %.1f s, %d channels (%d interpolated, %d masked), line %s Hz, usable %.2f",
        plan.path, harmonized.duration_s, len(harmonized.channels), len(harmonized.channels_interpolated),
        len(harmonized.channels_masked), harmonized.line_freq_hz, harmonized.quality.usable_fraction,
    )  # fmt: skip
    return harmonized
