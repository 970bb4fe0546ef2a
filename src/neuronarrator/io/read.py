"""Open an EEG file as a de-identified, lazily read :class:`~neuronarrator.io.recording.Recording`.

Every format goes through MNE (``mne.io.read_raw_*`` with ``preload=False``): only headers are read
here, so a 24-hour plain EDF opens in milliseconds. (EDF+ keeps its annotations interleaved with the
data, one annotation block per record; MNE reads those blocks on opening, about 0.7 s for a 24-hour,
19-channel EDF+ file in the page cache.) Before MNE sees a file we check that it exists, is not empty and
has a known extension; EDF/BDF headers are validated against the file size by
:mod:`neuronarrator.io.edf_header` (MNE would silently read a truncated file as a shorter one), FIF tag
chains by :mod:`~neuronarrator.io.fif_check` and EEGLAB MAT-file structures (whose sizes scipy trusts)
by :mod:`~neuronarrator.io.mat_check`. Any
exception MNE raises while parsing becomes a :class:`~neuronarrator.io.errors.CorruptFileError` (or
:class:`~neuronarrator.io.errors.FileMissingError` for a missing companion file) naming the file.

Multi-rate EDF. MNE gives every channel the highest sampling rate among the channels it reads, upsampling
the slower ones when their samples are read (FFT resampling of the span read; reading only part of the
file then gives edge artifacts, and MNE warns); the rate is taken over the channels *not* excluded
(MNE 1.13, ``edf._get_info``). So when a non-EEG channel is faster than the EEG (a 500 Hz ECG
next to 200 Hz EEG), we pass it in ``exclude=`` and the EEG comes back at its native rate; such channels
are dropped and logged. Slower non-EEG channels (Sleep-EDF's 1 Hz respiration and temperature) are kept
and upsampled by MNE. ``Recording.channel_sfreq_hz`` gives every kept channel's own rate from the header.

With ``strict=True`` the content is checked from the header alone: some EEG channel (referential 10-10
electrode or bipolar derivation), EEG at 100 Hz or more, and at least one sample.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from neuronarrator.io.channels import ChannelLabel, classify_channels
from neuronarrator.io.deid import (
    edf_identifiers,
    header_from_edf,
    header_from_info,
    info_identifiers,
    scrub_description,
    scrub_raw,
)
from neuronarrator.io.edf_header import read_edf_header
from neuronarrator.io.errors import (
    CorruptFileError,
    EmptyFileError,
    FileMissingError,
    HeaderMismatchError,
    NoEEGChannelsError,
    RecordingTooShortError,
    SamplingRateError,
    TruncatedFileError,
    UnsupportedFormatError,
)
from neuronarrator.io.fif_check import check_fif_tag_chain
from neuronarrator.io.mat_check import MatVariable, check_mat_file
from neuronarrator.io.recording import Event, Header, Recording

logger = logging.getLogger(__name__)

#: The harmonized contract resamples to 200 Hz; below 100 Hz the EEG bands we report are not there.
MIN_EEG_SFREQ_HZ = 100.0
#: No EEG system samples faster (intracranial ones reach tens of kHz); a header rate above is corrupt.
MAX_SFREQ_HZ = 1e6

# MNE channel types for the non-EEG kinds of channels.py (only channels MNE typed "eeg" are changed).
_MNE_TYPE_BY_KIND = {"ecg": "ecg", "eog": "eog", "emg": "emg", "resp": "resp", "temp": "temperature"}


def _mne_reader(name: str) -> Callable[..., Any]:
    def call(path: Path, **kwargs: Any) -> Any:
        import mne

        return getattr(mne.io, name)(str(path), preload=False, verbose="error", **kwargs)

    call.__name__ = name
    return call


#: Extension (lower case) -> (format name, MNE reader). ``.eeg`` is Nihon Kohden's main file; a
#: BrainVision recording is opened through its ``.vhdr`` header (its ``.eeg`` holds the samples).
READERS: dict[str, tuple[str, Callable[..., Any]]] = {
    ".edf": ("edf", _mne_reader("read_raw_edf")),
    ".bdf": ("bdf", _mne_reader("read_raw_bdf")),
    ".vhdr": ("brainvision", _mne_reader("read_raw_brainvision")),
    ".set": ("eeglab", _mne_reader("read_raw_eeglab")),
    ".fif": ("fif", _mne_reader("read_raw_fif")),
    ".fif.gz": ("fif", _mne_reader("read_raw_fif")),
    ".eeg": ("nihon_kohden", _mne_reader("read_raw_nihon")),
    ".lay": ("persyst", _mne_reader("read_raw_persyst")),
}


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in sorted(READERS, key=len, reverse=True):  # ".fif.gz" before ".gz"-less ones
        if name.endswith(suffix):
            return suffix
    raise UnsupportedFormatError(
        path,
        f"unsupported file type '{path.suffix or '(no extension)'}'; supported: {', '.join(READERS)}",
    )


def _check_path(path: Path) -> None:
    if not path.exists():
        raise FileMissingError(path, "no such file")
    if not path.is_file():
        raise FileMissingError(path, "not a regular file")
    if path.stat().st_size == 0:
        raise EmptyFileError(path, "the file is empty (0 bytes)")


def _short_reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    first = text[0] if text else ""
    first = first if len(first) <= 200 else first[:197] + "..."
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def _open_with_mne(path: Path, fmt: str, reader: Callable[..., Any], **kwargs: Any) -> Any:
    """Call one MNE reader; what it raises while parsing becomes one of our input errors."""
    stdout = io.StringIO()
    # Only Persyst's reader prints (on an odd birth date); capture it so that stdout stays clean.
    redirect = contextlib.redirect_stdout(stdout) if fmt == "persyst" else contextlib.nullcontext()
    try:
        with warnings.catch_warnings(record=True) as caught, redirect:
            warnings.simplefilter("always")
            raw = reader(path, **kwargs)
            raw.get_channel_types()  # MNE checks the channel-type codes (FIF) only when first asked
    except FileNotFoundError as error:
        missing = Path(error.filename).name if error.filename else None
        what = f"'{missing}'" if missing else "a companion file"
        raise FileMissingError(path, f"the {fmt} data file {what} is missing") from error
    except MemoryError as error:
        # A parser allocating what the file declares (scipy's MAT reader trusts element sizes): on
        # a header-only open, running out of memory means sizes the file cannot hold, not a big file.
        raise CorruptFileError(
            path, f"the {fmt} reader ran out of memory on sizes the file declares: corrupt or implausible"
        ) from error
    except Exception as error:  # MNE raises many types (ValueError, RuntimeError, KeyError, ...)
        raise CorruptFileError(
            path, f"the {fmt} reader could not parse it ({_short_reason(error)})"
        ) from error
    for item in caught:
        logger.debug("%s: MNE: %s", path, item.message)
    if stdout.getvalue().strip():
        logger.debug("%s: MNE printed: %s", path, stdout.getvalue().strip())
    return raw


def _kinds_summary(labels: list[ChannelLabel]) -> str:
    by_kind: dict[str, list[str]] = {}
    for lab in labels:
        by_kind.setdefault(lab.kind, []).append(lab.original)
    if not by_kind:
        return "no channels at all"
    parts = []
    for kind, names in by_kind.items():
        shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
        parts.append(f"{kind}: {shown}")
    return "; ".join(parts)


def _eeg_kind(labels: list[ChannelLabel]) -> str | None:
    """``"eeg"`` when referential electrodes exist, else ``"bipolar"`` when derivations do, else None."""
    kinds = {lab.kind for lab in labels}
    if "eeg" in kinds and any(lab.in_canonical_19 for lab in labels):
        return "eeg"
    if "bipolar" in kinds:
        return "bipolar"
    return "eeg" if "eeg" in kinds else None


def _check_content(path: Path, labels: list[ChannelLabel], rates_hz: list[float], n_times: int) -> None:
    """The strict checks: some EEG channel, EEG rate >= 100 Hz, at least one sample (header facts only)."""
    kind = _eeg_kind(labels)
    if kind is None:
        raise NoEEGChannelsError(
            path,
            "no EEG channel (neither a 10-20/10-10 electrode nor a bipolar derivation); "
            f"found {_kinds_summary(labels)}",
        )
    eeg_rates = [rate for lab, rate in zip(labels, rates_hz, strict=True) if lab.kind == kind]
    eeg_sfreq_hz = min(eeg_rates)
    if eeg_sfreq_hz < MIN_EEG_SFREQ_HZ:
        raise SamplingRateError(
            path,
            f"harmonized signals need at least {MIN_EEG_SFREQ_HZ:g} Hz; this file's EEG is at "
            f"{eeg_sfreq_hz:g} Hz",
        )
    if n_times <= 0:
        raise RecordingTooShortError(path, "the file holds no samples (0 data records)")


def _exclusions(labels: list[ChannelLabel], rates_hz: list[float]) -> list[str]:
    """Non-EEG channels faster than the EEG, which would make MNE upsample the EEG; by original label."""
    kind = _eeg_kind(labels)
    if kind is None:
        return []
    eeg_max_hz = max(rate for lab, rate in zip(labels, rates_hz, strict=True) if lab.kind == kind)
    eeg_names = {lab.original for lab in labels if lab.kind in ("eeg", "bipolar")}
    exclude = []
    for lab, rate in zip(labels, rates_hz, strict=True):
        # MNE excludes by name, every channel of that name: never name one that is also EEG.
        if rate > eeg_max_hz and lab.kind not in ("eeg", "bipolar") and lab.original not in eeg_names:
            if lab.original not in exclude:
                exclude.append(lab.original)
    return exclude


def _read_edf(path: Path, fmt: str, reader: Callable[..., Any], strict: bool) -> Recording:
    header = read_edf_header(path, strict=strict)
    if header.is_bdf != (fmt == "bdf"):
        right = ".bdf" if header.is_bdf else ".edf"
        raise CorruptFileError(
            path, f"named {path.suffix} but its header is {right[1:].upper()}'s; rename it to {right}"
        )
    signals = header.data_signals
    labels = classify_channels([s.label for s in signals])
    rates_hz = [header.sfreq_hz(s) for s in signals]
    if not signals:  # MNE would make a 1-s recording and drop the annotations beyond it: always refuse
        raise NoEEGChannelsError(path, "no signals at all: the file holds annotations only")
    if strict:
        _check_content(path, labels, rates_hz, header.n_records_in_file)
    if header.is_discontinuous:
        logger.warning("%s: EDF+D (discontinuous): gaps between records are not represented", path)
    exclude = _exclusions(labels, rates_hz)
    if exclude:
        logger.info("%s: left out %s: faster than the EEG (MNE would upsample the EEG)", path, exclude)
    raw = _open_with_mne(path, fmt, reader, exclude=exclude)
    kept = [(s, rate) for s, rate in zip(signals, rates_hz, strict=True) if s.label not in exclude]
    if len(kept) == len(raw.ch_names):
        channel_sfreq_hz = {name: rate for name, (_, rate) in zip(raw.ch_names, kept, strict=True)}
    else:  # MNE kept other channels than we expected; fall back to the common rate
        logger.warning("%s: channel list from MNE differs from the header; using MNE's rate", path)
        channel_sfreq_hz = {name: float(raw.info["sfreq"]) for name in raw.ch_names}
    deid = header_from_edf(header.patient, header.recording, header.start)
    identifiers = edf_identifiers(header.patient, header.recording, header.start)
    return _finish(path, fmt, raw, channel_sfreq_hz, deid, identifiers)


def _finish(
    path: Path, fmt: str, raw: Any, channel_sfreq_hz: dict[str, float], header: Header,
    identifiers: tuple[str, ...] = (),
) -> Recording:
    labels = classify_channels(list(raw.ch_names))
    events = _events(raw, (*identifiers, *info_identifiers(raw.info)))
    scrub_raw(raw, header)
    _set_channel_types(path, raw, labels)
    return Recording(
        path=path,
        format=fmt,
        raw=raw,
        labels=labels,
        channel_sfreq_hz=channel_sfreq_hz,
        header=header,
        events=events,
    )


def _events(raw: Any, identifiers: tuple[str, ...]) -> list[Event]:
    """``raw.annotations`` as events with onsets in seconds from the first sample, texts scrubbed.

    The texts kept on ``raw.annotations`` are replaced by the scrubbed ones as well.
    """
    annotations = raw.annotations
    scrubbed = {d: scrub_description(d, identifiers) for d in map(str, set(annotations.description))}
    renamed = {d: s for d, s in scrubbed.items() if s != d}
    if renamed:
        annotations.rename(renamed, verbose="error")
    # MNE keeps onsets on the time axis where the first sample lies at raw.first_time (FIF files can
    # start later than 0; mne.annotations._sync_onset subtracts it whether or not orig_time is set).
    shift_s = float(raw.first_time)
    return [
        Event(float(onset) - shift_s, float(duration), str(description))
        for onset, duration, description in zip(
            annotations.onset, annotations.duration, annotations.description, strict=True
        )
    ]


def _set_channel_types(path: Path, raw: Any, labels: list[ChannelLabel]) -> None:
    """Give MNE's ``eeg``-typed non-EEG channels their kind (ecg, eog, ...; ``misc`` otherwise)."""
    if not labels:
        return
    types = raw.get_channel_types()
    mapping = {
        lab.original: _MNE_TYPE_BY_KIND.get(lab.kind, "misc")
        for lab, ch_type in zip(labels, types, strict=True)
        if ch_type == "eeg" and lab.kind not in ("eeg", "bipolar")
    }
    if mapping:
        try:
            raw.set_channel_types(mapping, on_unit_change="ignore", verbose="error")
        except ValueError as error:  # MNE checks each channel's unit code here: a corrupt one fails
            raise CorruptFileError(path, f"invalid channel information ({_short_reason(error)})") from error


def _check_eeglab_data(path: Path, raw: Any, variables: list[MatVariable], strict: bool) -> None:
    """The samples an EEGLAB header promises (channels x points) against the ``.fdt`` or ``data`` array.

    MNE reads them only when asked; a short ``.fdt`` or a ``data`` array of another shape would fail
    (or read the wrong samples) long after the file opened.
    """
    n_chans, n_times = len(raw.ch_names), int(raw.n_times)
    data_path = Path(raw.filenames[0]) if raw.filenames and raw.filenames[0] else path
    if data_path.resolve() != path.resolve():  # samples in a separate .fdt: float32, channel-interleaved
        need, have = 4 * n_chans * n_times, data_path.stat().st_size
        what = f"{n_chans} channels x {n_times:,} samples (float32) need {need:,} bytes"
        if have < need:
            raise TruncatedFileError(path, f"its data file '{data_path.name}' holds {have:,} bytes; {what}")
        if have > need:
            if strict:
                raise HeaderMismatchError(
                    path, f"its data file '{data_path.name}' holds {have:,} bytes; {what}"
                )
            logger.warning("%s: %s holds %d bytes more than the header's samples", path, data_path.name,
                           have - need)  # fmt: skip
        return
    for var in variables:  # samples inside the .set: a top-level numeric `data` variable
        if var.name == "data" and 6 <= var.mclass <= 15:
            if var.dims[0] != n_chans or math.prod(var.dims[1:]) != n_times:
                raise HeaderMismatchError(
                    path,
                    f"its data array is {' x '.join(map(str, var.dims))} but the header says "
                    f"{n_chans} channels x {n_times:,} samples",
                )


def read_recording(path: str | Path, *, strict: bool = True) -> Recording:
    """Open one EEG file, de-identified, without reading its samples.

    Parameters
    ----------
    path : str or Path
        The file: ``.edf .bdf .vhdr .set .fif .fif.gz .eeg`` (Nihon Kohden) or ``.lay`` (Persyst).
    strict : bool
        When True (default), refuse files without EEG channels, with EEG below 100 Hz or with no
        samples, and EDF/BDF files whose size disagrees with the header. When False, such files are
        opened anyway (EDF/BDF: the whole records present are read) and the problems logged.

    Returns
    -------
    Recording
        ``raw`` not preloaded and scrubbed of identifiers; ``labels`` one per ``raw`` channel;
        ``channel_sfreq_hz`` each channel's own rate in Hz; ``events`` onsets in s from the start.

    Raises
    ------
    FileMissingError, EmptyFileError, UnsupportedFormatError, CorruptFileError (TruncatedFileError,
    HeaderMismatchError), NoEEGChannelsError, SamplingRateError, RecordingTooShortError
        Each names the file and the problem in ``str(error)``.
    """
    path = Path(path)
    _check_path(path)
    suffix = _suffix(path)
    fmt, reader = READERS[suffix]
    if fmt in ("edf", "bdf"):
        return _read_edf(path, fmt, reader, strict)
    if suffix == ".eeg" and path.with_suffix(".vhdr").exists():
        raise UnsupportedFormatError(
            path,
            f"this .eeg file holds the samples of BrainVision recording '{path.with_suffix('.vhdr').name}'; "
            "open the .vhdr file instead",
        )
    if fmt == "fif":
        check_fif_tag_chain(path)  # a looping tag chain would make MNE's reader hang
    variables = check_mat_file(path) if fmt == "eeglab" else []  # scipy trusts the sizes a .set declares
    raw = _open_with_mne(path, fmt, reader)
    if fmt == "eeglab":
        _check_eeglab_data(path, raw, variables, strict)
    labels = classify_channels(list(raw.ch_names))
    sfreq_hz = float(raw.info["sfreq"])
    if not (0 < sfreq_hz <= MAX_SFREQ_HZ):  # MNE takes any number (Persyst's "inf", "1e308")
        raise CorruptFileError(path, f"invalid sampling rate in the header: {sfreq_hz:g} Hz")
    if strict:
        _check_content(path, labels, [sfreq_hz] * len(labels), int(raw.n_times))
    header = header_from_info(raw.info)
    return _finish(path, fmt, raw, {name: sfreq_hz for name in raw.ch_names}, header)


def read_annotations(path: str | Path) -> list[Event]:
    """Events of a file that holds only annotations (an EDF+ hypnogram such as Sleep-EDF's ``*-Hypnogram.edf``).

    Onsets are in seconds from the recording's start, as the file gives them (for a hypnogram, the start
    of the matching PSG file). Raises the same input errors as :func:`read_recording`.
    """
    import mne

    path = Path(path)
    _check_path(path)
    identifiers: tuple[str, ...] = ()
    if _suffix(path) in (".edf", ".bdf"):
        header = read_edf_header(path)
        identifiers = edf_identifiers(header.patient, header.recording, header.start)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            annotations = mne.read_annotations(path)
    except Exception as error:
        raise CorruptFileError(path, f"could not read its annotations ({_short_reason(error)})") from error
    return [
        Event(float(onset), float(duration), scrub_description(str(description), identifiers))
        for onset, duration, description in zip(
            annotations.onset, annotations.duration, annotations.description, strict=True
        )
    ]
