"""The in-memory form of one input file after reading: de-identified header, channel map, lazy data.

A :class:`Recording` holds an MNE ``Raw`` opened *without* loading its samples (``preload=False``), so
that questions about a file (channels, rate, duration, header) are answered from the header alone and a
24-hour file costs no more than a 20-second one. Samples are read on demand with :meth:`get_data_uv`,
which is the one place where units become microvolts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neuronarrator.io.channels import ChannelLabel, classify_channels, is_bipolar_only


@dataclass(frozen=True)
class Header:
    """The de-identified header: nothing here identifies a person.

    Patient name, ID and birth date never leave the reader except as ``subject_hash`` (a salted hash);
    dates are reduced to the year (HIPAA Safe Harbor keeps years only).
    """

    subject_hash: str | None = None  # salted SHA-256 of patient ID + name, 16 hex chars
    age_years: float | None = None  # at the recording, from birth date and recording date
    sex: str | None = None  # "male", "female" or None
    recording_year: int | None = None
    device: str | None = None  # equipment or system named by the file, when it says

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Event:
    """One annotation of the file: onset and duration in seconds from the recording's start."""

    onset_s: float
    duration_s: float
    description: str


@dataclass
class Recording:
    """One file, read lazily.

    Attributes
    ----------
    path : Path
        The file given by the user (for BrainVision and Persyst, the header file).
    format : str
        Reader used: ``edf bdf brainvision eeglab fif nihon_kohden persyst``.
    raw : mne.io.BaseRaw
        Not preloaded; identifiers already removed from ``raw.info``.
    labels : list of ChannelLabel
        One per channel of ``raw``, in file order.
    channel_sfreq_hz : dict
        Original sampling rate of each channel, by original label (multi-rate EDF differs per channel;
        MNE itself resamples all channels to the highest rate).
    header : Header
    events : list of Event
    """

    path: Path
    format: str
    raw: Any
    labels: list[ChannelLabel]
    channel_sfreq_hz: dict[str, float]
    header: Header = field(default_factory=Header)
    events: list[Event] = field(default_factory=list)

    @property
    def sfreq_hz(self) -> float:
        """Rate at which :meth:`get_data_uv` returns samples (MNE's common rate)."""
        return float(self.raw.info["sfreq"])

    @property
    def n_times(self) -> int:
        return int(self.raw.n_times)

    @property
    def duration_s(self) -> float:
        return self.n_times / self.sfreq_hz

    @property
    def montage(self) -> str:
        """``"bipolar"`` when the file has only bipolar derivations (CHB-MIT), else ``"referential"``."""
        return "bipolar" if is_bipolar_only(self.labels) else "referential"

    @property
    def eeg_labels(self) -> list[ChannelLabel]:
        """Referential EEG electrodes (any 10-10 name), or bipolar derivations for a bipolar file."""
        kind = "bipolar" if self.montage == "bipolar" else "eeg"
        return [lab for lab in self.labels if lab.kind == kind]

    @property
    def eeg_sfreq_hz(self) -> float:
        """Original sampling rate of the EEG channels (the lowest, should they differ)."""
        rates = [self.channel_sfreq_hz[lab.original] for lab in self.eeg_labels]
        return float(min(rates)) if rates else self.sfreq_hz

    def get_data_uv(
        self, originals: list[str], start_s: float = 0.0, stop_s: float | None = None
    ) -> np.ndarray:
        """Samples of the named channels (original labels), in µV, shape (n_chans, n_times), float64."""
        start = int(round(start_s * self.sfreq_hz))
        stop = None if stop_s is None else int(round(stop_s * self.sfreq_hz))
        unknown = sorted(set(originals) - set(self.raw.ch_names))
        if unknown:  # the caller's mistake, kept apart from the file's problems below
            raise ValueError(f"no channels {unknown} in {self.path}")
        # EEGLAB samples stored inside the .set are parsed here, on the first read, by scipy's MAT reader
        # (MNE re-reads the whole file), which raises whatever the bytes lead it to: TypeError, KeyError,
        # ZeroDivisionError, or MemoryError on a size the file declares but does not hold (read.py's
        # mat_check refuses such files at opening; this covers a file changed since).
        filenames = list(getattr(self.raw, "filenames", None) or [None])
        embedded = (
            self.format == "eeglab" and filenames[0] is not None and Path(filenames[0]).resolve() == self.path.resolve()
        )
        parsed_here = (Exception,) if embedded else ()
        try:
            return self.raw.get_data(picks=list(originals), start=start, stop=stop) * 1e6
        except (ValueError, OSError, EOFError, IndexError, *parsed_here) as error:
            # The samples are read lazily, long after the header parsed: a corrupt data section (a FIF
            # buffer cut short or of the wrong size, an EDF shortened since it was opened) surfaces here
            # as numpy's ValueError ("buffer size must be a multiple of element size", "cannot reshape")
            # or an OSError from the file.
            from neuronarrator.io.errors import CorruptFileError

            if isinstance(error, MemoryError):
                raise CorruptFileError(
                    self.path, "its samples could not be read: the MAT reader ran out of memory on sizes "
                    "the file declares (corrupt or implausible)"
                ) from error
            reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
            raise CorruptFileError(
                self.path, f"its samples could not be read ({type(error).__name__}: {reason})"
            ) from error

    @classmethod
    def from_array(
        cls,
        data_uv: np.ndarray,
        sfreq_hz: float,
        ch_names: list[str],
        *,
        path: str | Path = "<array>",
        events: list[Event] | None = None,
        header: Header | None = None,
    ) -> Recording:
        """Wrap an in-memory array (n_chans, n_times) in µV, e.g. from the phantom or a test."""
        import mne

        data_uv = np.asarray(data_uv, dtype=np.float64)
        if data_uv.ndim != 2 or data_uv.shape[0] != len(ch_names):
            raise ValueError(f"data_uv must be (n_chans={len(ch_names)}, n_times), got {data_uv.shape}")
        info = mne.create_info(list(ch_names), float(sfreq_hz), ch_types="misc")
        raw = mne.io.RawArray(data_uv * 1e-6, info, verbose="error")
        return cls(
            path=Path(path),
            format="array",
            raw=raw,
            labels=classify_channels(list(ch_names)),
            channel_sfreq_hz={name: float(sfreq_hz) for name in ch_names},
            header=header or Header(),
            events=list(events or []),
        )
