"""The fixed header of an EDF, EDF+ or BDF file, parsed and checked against the file's size.

Why a hand-written parser when MNE reads EDF: MNE does not check the header against the file. When the
record count disagrees with the file size it warns and silently infers the count from the size, so a
file cut short in transfer opens as a shorter recording and nobody is told. We also need header facts
(each signal's own sampling rate, the raw EDF+ patient and recording fields for de-identification, the
record count) *before* deciding how to call MNE (which channels to exclude) and without touching the
samples: this module reads only the header bytes (256 + 256 per signal) and ``os.stat``.

Layout (EDF spec, Kemp 1992; EDF+ 2003; BDF is EDF with 3-byte samples and ``\\xffBIOSEMI`` as version)::

    8 version | 80 patient | 80 recording | 8 start date dd.mm.yy | 8 start time hh.mm.ss
    8 header bytes | 44 reserved ("EDF+C"/"EDF+D"/"24BIT"/"BDF+C") | 8 n records | 8 record duration s
    4 n signals | per signal, field by field: 16 label | 80 transducer | 8 physical dim | 8 phys min
    8 phys max | 8 dig min | 8 dig max | 80 prefiltering | 8 samples per record | 32 reserved

Record count ``-1`` ("unknown", allowed while recording) is accepted when the data are a whole number of
records: the count is then taken from the file size, with a logged warning (MNE does the same).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from neuronarrator.io.errors import (
    CorruptFileError,
    EmptyFileError,
    HeaderMismatchError,
    TruncatedFileError,
)

logger = logging.getLogger(__name__)

EDF_MAGIC = b"0       "
BDF_MAGIC = b"\xffBIOSEMI"
ANNOTATION_LABELS = ("EDF Annotations", "BDF Annotations")

# (name for messages, width) of the per-signal fields, in file order.
_SIGNAL_FIELDS = (
    ("label", 16), ("transducer", 80), ("physical dimension", 8), ("physical minimum", 8),
    ("physical maximum", 8), ("digital minimum", 8), ("digital maximum", 8), ("prefiltering", 80),
    ("samples per record", 8), ("reserved", 32),
)  # fmt: skip


@dataclass(frozen=True)
class EdfSignalHeader:
    """The header of one signal (channel). Physical values in ``physical_dim`` units."""

    label: str
    transducer: str
    physical_dim: str
    physical_min: float
    physical_max: float
    digital_min: int
    digital_max: int
    prefiltering: str
    samples_per_record: int

    @property
    def is_annotation(self) -> bool:
        """True for the EDF+/BDF+ annotation signal ("EDF Annotations"), which holds no samples."""
        return self.label in ANNOTATION_LABELS


@dataclass(frozen=True)
class EdfHeader:
    """The fixed header of an EDF/EDF+/BDF file, validated against the file size.

    ``patient`` and ``recording`` are the raw identification fields: they may identify a person and
    must go through :mod:`neuronarrator.io.deid` before leaving the reader (they are left out of
    ``repr``). ``n_records`` is the count declared by the header (``-1`` = unknown);
    ``n_records_in_file`` is the count of whole records actually present, which the reader uses.
    """

    path: Path
    version: str
    patient: str
    recording: str
    start_date: str  # "dd.mm.yy" as written
    start_time: str  # "hh.mm.ss" as written
    header_bytes: int
    reserved: str
    n_records: int
    record_duration_s: float
    n_signals: int
    signals: tuple[EdfSignalHeader, ...]
    file_bytes: int
    n_records_in_file: int
    is_bdf: bool

    def __repr__(self) -> str:  # the identification fields stay out of logs and tracebacks
        return (
            f"EdfHeader(path={str(self.path)!r}, {'BDF' if self.is_bdf else 'EDF'}"
            f"{'+' if self.is_edf_plus else ''}, n_signals={self.n_signals}, n_records={self.n_records}, "
            f"record_duration_s={self.record_duration_s})"
        )

    @property
    def is_edf_plus(self) -> bool:
        return self.reserved.startswith(("EDF+", "BDF+"))

    @property
    def is_discontinuous(self) -> bool:
        return self.reserved.startswith(("EDF+D", "BDF+D"))

    @property
    def bytes_per_sample(self) -> int:
        return 3 if self.is_bdf else 2

    @property
    def bytes_per_record(self) -> int:
        return sum(s.samples_per_record for s in self.signals) * self.bytes_per_sample

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(s.label for s in self.signals)

    @property
    def physical_dims(self) -> tuple[str, ...]:
        return tuple(s.physical_dim for s in self.signals)

    @property
    def samples_per_record(self) -> tuple[int, ...]:
        return tuple(s.samples_per_record for s in self.signals)

    @property
    def data_signals(self) -> tuple[EdfSignalHeader, ...]:
        """The signals holding samples (the annotation signal left out), in file order."""
        return tuple(s for s in self.signals if not s.is_annotation)

    def sfreq_hz(self, signal: EdfSignalHeader) -> float:
        """Sampling rate of one signal in Hz (samples per record / record duration)."""
        if self.record_duration_s <= 0:
            return 0.0
        return signal.samples_per_record / self.record_duration_s

    @property
    def duration_s(self) -> float:
        """Duration of the data present in the file, in seconds."""
        return self.n_records_in_file * self.record_duration_s

    @property
    def start(self) -> datetime | None:
        """Start date and time from the header's dd.mm.yy / hh.mm.ss fields (1985-2084 clipping)."""
        try:
            day, month, year = (int(x) for x in self.start_date.split("."))
            hour, minute, second = (int(x) for x in self.start_time.split("."))
            year += 1900 if year >= 85 else 2000
            return datetime(year, month, day, hour, minute, second)
        except ValueError:
            return None


def _text(raw: bytes) -> str:
    # MNE strips whitespace from the bytes (not NULs) before decoding; do the same so labels match.
    return raw.strip().decode("latin-1")


def _number(path: Path, name: str, raw: bytes, kind: type) -> int | float:
    text = raw.strip().decode("latin-1").replace("\x00", "").strip()
    try:
        value = int(text) if kind is int else float(text)
    except ValueError:
        raise CorruptFileError(
            path, f"not a valid EDF header: field '{name}' is {text!r}, not a number"
        ) from None
    if not math.isfinite(value):  # float() takes "nan" and "inf"; no EDF field may hold them
        raise CorruptFileError(path, f"not a valid EDF header: field '{name}' is {text!r}, not a finite number")
    return value


def read_edf_header(path: str | Path, *, strict: bool = True) -> EdfHeader:
    """Parse and validate the header of an EDF/EDF+/BDF file, reading the header bytes only.

    Parameters
    ----------
    path : str or Path
        The file.
    strict : bool
        When True, a file whose size disagrees with the declared record count raises. When False,
        the disagreement is logged and ``n_records_in_file`` counts the whole records present (what
        MNE will read); problems that make the header unusable still raise.

    Returns
    -------
    EdfHeader

    Raises
    ------
    EmptyFileError
        The file has zero bytes.
    CorruptFileError
        Not an EDF/BDF file (wrong version bytes), or a header field does not parse or is invalid.
    TruncatedFileError
        The header or the data stop before the header says they should (a partial final record counts).
    HeaderMismatchError
        The header contradicts itself or the file: header size versus signal count, more data than the
        declared records, record count ``-1`` with a partial record.
    """
    path = Path(path)
    file_bytes = os.stat(path).st_size
    if file_bytes == 0:
        raise EmptyFileError(path, "the file is empty (0 bytes)")
    with open(path, "rb") as f:
        fixed = f.read(256)
        magic = fixed[:8]
        if magic not in (EDF_MAGIC, BDF_MAGIC):
            raise CorruptFileError(
                path,
                f"not an EDF/BDF file: it starts with {magic!r}, where EDF has {EDF_MAGIC.decode()!r} "
                "and BDF has '\\xffBIOSEMI'",
            )
        if len(fixed) < 256:
            raise TruncatedFileError(
                path, f"the header stops after {len(fixed)} of 256 bytes; the file was cut short"
            )
        is_bdf = magic == BDF_MAGIC
        header_bytes = int(_number(path, "number of bytes in header", fixed[184:192], int))
        n_records = int(_number(path, "number of data records", fixed[236:244], int))
        duration_s = float(_number(path, "duration of a data record", fixed[244:252], float))
        n_signals = int(_number(path, "number of signals", fixed[252:256], int))
        if n_signals < 1:
            raise CorruptFileError(path, f"not a valid EDF header: it declares {n_signals} signals")
        if header_bytes != 256 * (n_signals + 1):
            raise HeaderMismatchError(
                path,
                f"the header says it is {header_bytes:,} bytes long, but {n_signals} signals make "
                f"{256 * (n_signals + 1):,}",
            )
        rest = f.read(256 * n_signals)
    if len(rest) < 256 * n_signals:
        raise TruncatedFileError(
            path,
            f"the header declares {n_signals} signals ({header_bytes:,} bytes) but the file has only "
            f"{file_bytes:,} bytes; the file was cut short",
        )
    signals = _parse_signals(path, rest, n_signals)
    reserved = _text(fixed[192:236])

    all_annotation = all(s.is_annotation for s in signals)
    if duration_s < 0 or (duration_s == 0 and not all_annotation):
        raise CorruptFileError(path, f"not a valid EDF header: the data record duration is {duration_s:g} s")
    for s in signals:
        if s.samples_per_record < 0:
            raise CorruptFileError(
                path, f"signal '{s.label}' declares {s.samples_per_record} samples per record"
            )
        if s.digital_min >= s.digital_max:
            raise CorruptFileError(
                path,
                f"signal '{s.label}': digital minimum {s.digital_min} is not below the digital "
                f"maximum {s.digital_max}, so its samples cannot be scaled",
            )

    header = EdfHeader(
        path=path,
        version=magic.decode("latin-1").strip(),
        patient=_text(fixed[8:88]),
        recording=_text(fixed[88:168]),
        start_date=_text(fixed[168:176]),
        start_time=_text(fixed[176:184]),
        header_bytes=header_bytes,
        reserved=reserved,
        n_records=n_records,
        record_duration_s=duration_s,
        n_signals=n_signals,
        signals=signals,
        file_bytes=file_bytes,
        n_records_in_file=0,
        is_bdf=is_bdf,
    )
    return replace(header, n_records_in_file=_check_size(header, strict=strict))


def _parse_signals(path: Path, rest: bytes, n_signals: int) -> tuple[EdfSignalHeader, ...]:
    columns: dict[str, list[bytes]] = {}
    offset = 0
    for name, width in _SIGNAL_FIELDS:
        columns[name] = [rest[offset + i * width : offset + (i + 1) * width] for i in range(n_signals)]
        offset += width * n_signals
    signals = []
    for i in range(n_signals):
        label = _text(columns["label"][i])

        def num(name: str, kind: type, i: int = i, label: str = label) -> int | float:
            return _number(path, f"{name} of signal {i + 1} ('{label}')", columns[name][i], kind)

        signals.append(
            EdfSignalHeader(
                label=label,
                transducer=_text(columns["transducer"][i]),
                physical_dim=_text(columns["physical dimension"][i]),
                physical_min=float(num("physical minimum", float)),
                physical_max=float(num("physical maximum", float)),
                digital_min=int(num("digital minimum", float)),
                digital_max=int(num("digital maximum", float)),
                prefiltering=_text(columns["prefiltering"][i]),
                samples_per_record=int(num("samples per record", int)),
            )
        )
    return tuple(signals)


def _check_size(header: EdfHeader, *, strict: bool) -> int:
    """Compare the data size with the declared records; return the whole records present."""
    path = header.path
    record_bytes = header.bytes_per_record
    data_bytes = header.file_bytes - header.header_bytes
    if record_bytes == 0:
        if header.n_records > 0 and not all(s.is_annotation for s in header.signals):
            raise CorruptFileError(path, "not a valid EDF header: no signal has any samples per record")
        return max(header.n_records, 0)
    whole, partial = divmod(data_bytes, record_bytes)
    declared = header.n_records

    if declared == -1:
        if partial:
            raise HeaderMismatchError(
                path,
                f"the header gives the record count as -1 (unknown) and the data ({data_bytes:,} bytes) "
                f"are not a whole number of {record_bytes:,}-byte records",
            )
        logger.warning("%s: record count is -1 (unknown); the file holds %d whole records", path, whole)
        return whole
    if declared < -1:
        raise CorruptFileError(path, f"not a valid EDF header: it declares {declared} data records")

    expected_bytes = header.header_bytes + declared * record_bytes
    if header.file_bytes < expected_bytes:
        problem = (
            f"data stops after {whole:,} of {declared:,} declared records (header says "
            f"{expected_bytes:,} bytes, file has {header.file_bytes:,}); the file was cut short"
        )
        if strict:
            raise TruncatedFileError(path, problem)
        logger.warning("%s: %s; reading the %d whole records present", path, problem, whole)
        return whole
    if header.file_bytes > expected_bytes:
        extra = header.file_bytes - expected_bytes
        problem = (
            f"the header declares {declared:,} records ({expected_bytes:,} bytes) but the file has "
            f"{header.file_bytes:,} bytes: {extra:,} bytes follow the last declared record"
        )
        if strict:
            raise HeaderMismatchError(path, problem)
        logger.warning("%s: %s; reading the %d whole records present", path, problem, whole)
        return whole
    return declared
