"""Parsers of the TUH EEG label files: TUEV ``.rec``/``.lab`` events and TUSZ ``.csv``/``.csv_bi``/``.tse``.

Every parser returns :class:`~.annotations.Mark` s (code, place, seconds) and raises a
:class:`~.common.LabelFileError` naming the file and the line for anything it cannot read: a wrong
number of fields, a number that is not one, a span that ends before it starts, an unknown label.

Formats (TUH EEG corpus documentation, NEDC tools):

- TUEV ``.rec``: ``channel,start,stop,label`` per line; ``channel`` indexes the 22-derivation TCP montage
  (:data:`TCP_MONTAGE`), ``label`` the class 1-6 (SPSW GPED PLED EYEM ARTF BCKG). One event is usually
  written once per channel it shows on: lines with the same span and label are one event.
- TUEV ``.lab``: one file per channel, ``<base>_chNNN.lab``, HTK lines ``start end label`` with times in
  100-ns units and lower-case class names.
- TUSZ ``.csv`` / ``.csv_bi`` (v2): ``#`` comment lines, a header ``channel,start_time,stop_time,label,
  confidence``, then rows; ``.csv`` per TCP derivation (``FP1-F7``), ``.csv_bi`` with channel ``TERM``
  and labels ``seiz``/``bckg``. Per-channel seizure rows that overlap in time are one seizure.
- TUSZ ``.tse`` / ``.tse_bi`` (v1): ``version = tse_v1.0.0``, then ``start stop label confidence``.
"""

from __future__ import annotations

import re
from pathlib import Path

from neuronarrator.clinical import mappings
from neuronarrator.clinical.findings import FindingsError
from neuronarrator.clinical.location import (
    ELECTRODE_REGIONS,
    canonical_channel,
    combine_sides,
    electrode_side,
)
from neuronarrator.corpus.sources.annotations import Mark
from neuronarrator.corpus.sources.common import LabelFileError, read_lines

#: The TCP montage of TUH (01_tcp_ar / 02_tcp_le), in the order TUEV channel indices count.
TCP_MONTAGE: tuple[str, ...] = (
    "FP1-F7", "F7-T3", "T3-T5", "T5-O1", "FP2-F8", "F8-T4", "T4-T6", "T6-O2", "A1-T3", "T3-C3", "C3-CZ",
    "CZ-C4", "C4-T4", "T4-A2", "FP1-F3", "F3-C3", "C3-P3", "P3-O1", "FP2-F4", "F4-C4", "C4-P4", "P4-O2",
)  # fmt: skip
#: HTK label times are in units of 100 ns.
HTK_UNITS_PER_S = 1e7
_LAB_CHANNEL = re.compile(r"_ch(\d{3})\.lab$", re.I)


def place(derivations: list[str]) -> tuple[str | None, tuple[str, ...], tuple[str, ...]]:
    """Side, regions and 10-20 channels of a set of derivations (``FP1-F7``; ``TERM`` says nothing).

    Sides follow the electrodes (odd left, even right, z midline; A1/A2 the ear's side); left and right
    together are bilateral, and a lateral side beats the midline (``C3-CZ`` is left).
    """
    electrodes = [e for d in derivations if d.upper() != "TERM" for e in d.upper().split("-") if e]
    sides = {electrode_side(e) for e in electrodes if re.search(r"\d|Z$", e)}
    channels = tuple(dict.fromkeys(c for e in electrodes if (c := canonical_channel(e))))
    regions = tuple(dict.fromkeys(r for e in electrodes for r in ELECTRODE_REGIONS.get(e, ())))
    return combine_sides(sides), regions, channels


def _number(path: Path, line: int, text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise LabelFileError(path, line, f"{what} {text.strip()!r} is not a number") from None
    if value < 0:
        raise LabelFileError(path, line, f"{what} {value} is negative")
    return value


def _span(path: Path, line: int, start: str, stop: str, scale: float = 1.0) -> tuple[float, float]:
    a, b = _number(path, line, start, "start") / scale, _number(path, line, stop, "stop") / scale
    if not b > a:
        raise LabelFileError(path, line, f"stop {b} is not after start {a}")
    return a, b


def _group(events: dict[tuple[float, float, str], list[str]]) -> list[Mark]:
    marks = []
    for (start, stop, code), derivations in sorted(events.items()):
        side, regions, channels = place(derivations)
        marks.append(Mark(code, start, stop, side, regions, channels))
    return marks


def _tuev_code(path: Path, line: int, label: str) -> str | None:
    try:
        return mappings.from_tuev(label)
    except FindingsError as error:
        raise LabelFileError(path, line, str(error)) from None


def parse_rec(path: Path) -> list[Mark]:
    """Events of a TUEV ``.rec`` file (module docstring); background (class 6) left out."""
    events: dict[tuple[float, float, str], list[str]] = {}
    for number, line in enumerate(read_lines(path), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != 4:
            raise LabelFileError(
                path,
                number,
                f"expected 4 comma-separated fields (channel,start,stop,label), got {len(fields)}",
            )
        if not fields[0].isdigit() or int(fields[0]) >= len(TCP_MONTAGE):
            raise LabelFileError(
                path, number, f"channel {fields[0]!r} is not a TCP montage index 0-{len(TCP_MONTAGE) - 1}"
            )
        start, stop = _span(path, number, fields[1], fields[2])
        code = _tuev_code(
            path, number, fields[3].split(".")[0] if re.fullmatch(r"\d+\.0*", fields[3]) else fields[3]
        )
        if code is not None:
            events.setdefault((start, stop, code), []).append(TCP_MONTAGE[int(fields[0])])
    return _group(events)


def parse_labs(paths: list[Path]) -> list[Mark]:
    """Events of TUEV per-channel ``<base>_chNNN.lab`` files (HTK times, 100 ns)."""
    events: dict[tuple[float, float, str], list[str]] = {}
    for path in paths:
        match = _LAB_CHANNEL.search(path.name)
        if not match or int(match[1]) >= len(TCP_MONTAGE):
            raise LabelFileError(path, None, "the name does not end in _chNNN.lab with a TCP montage index")
        derivation = TCP_MONTAGE[int(match[1])]
        for number, line in enumerate(read_lines(path), start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 3:
                raise LabelFileError(path, number, f"expected 3 fields (start end label), got {len(fields)}")
            start, stop = _span(path, number, fields[0], fields[1], HTK_UNITS_PER_S)
            code = _tuev_code(path, number, fields[2])
            if code is not None:
                events.setdefault((start, stop, code), []).append(derivation)
    return _group(events)


def _tusz(path: Path, line: int, label: str) -> mappings.Mapped | None:
    try:
        return mappings.from_tusz(label)
    except FindingsError as error:
        raise LabelFileError(path, line, str(error)) from None


def _confidence(path: Path, line: int, text: str) -> None:
    if not 0.0 <= _number(path, line, text, "confidence") <= 1.0:
        raise LabelFileError(path, line, f"confidence {text} is outside 0-1")


def _merge_overlapping(rows: list[tuple[float, float, mappings.Mapped, str]]) -> list[Mark]:
    """Per-channel seizure rows -> one mark per seizure (rows overlapping in time joined)."""
    marks: list[Mark] = []
    group: list[tuple[float, float, mappings.Mapped, str]] = []
    for row in sorted(rows, key=lambda r: (r[0], r[1])) + [None]:  # type: ignore[list-item]
        if group and (row is None or row[0] >= max(r[1] for r in group)):
            side, regions, channels = place([r[3] for r in group])
            mapped = max((r[2] for r in group), key=lambda m: m.side is not None)  # a generalized type wins
            marks.append(Mark(mapped.code, min(r[0] for r in group), max(r[1] for r in group),
                              mapped.side or side, mapped.regions or regions, channels))  # fmt: skip
            group = []
        if row is not None:
            group.append(row)
    return marks


def parse_csv(path: Path) -> list[Mark]:
    """Seizures of a TUSZ ``.csv`` (per channel) or ``.csv_bi`` (``TERM``) file."""
    rows: list[tuple[float, float, mappings.Mapped, str]] = []
    header_seen = False
    for number, line in enumerate(read_lines(path), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in line.split(",")]
        if not header_seen:
            if [f.lower() for f in fields] != ["channel", "start_time", "stop_time", "label", "confidence"]:
                raise LabelFileError(
                    path,
                    number,
                    f"expected the header 'channel,start_time,stop_time,label,confidence', got {line.strip()!r}",
                )
            header_seen = True
            continue
        if len(fields) != 5:
            raise LabelFileError(path, number, f"expected 5 comma-separated fields, got {len(fields)}")
        start, stop = _span(path, number, fields[1], fields[2])
        _confidence(path, number, fields[4])
        mapped = _tusz(path, number, fields[3])
        if mapped is not None:
            rows.append((start, stop, mapped, fields[0]))
    if not header_seen:
        raise LabelFileError(path, None, "no 'channel,start_time,stop_time,label,confidence' header")
    return _merge_overlapping(rows)


def parse_tse(path: Path) -> list[Mark]:
    """Seizures of a TUSZ ``.tse`` / ``.tse_bi`` file (``start stop label confidence``)."""
    marks: list[Mark] = []
    for number, line in enumerate(read_lines(path), start=1):
        if not line.strip() or line.lstrip().startswith("#") or line.lower().startswith("version"):
            continue
        fields = line.split()
        if len(fields) != 4:
            raise LabelFileError(
                path, number, f"expected 4 fields (start stop label confidence), got {len(fields)}"
            )
        start, stop = _span(path, number, fields[0], fields[1])
        _confidence(path, number, fields[3])
        mapped = _tusz(path, number, fields[2])
        if mapped is not None:
            marks.append(Mark(mapped.code, start, stop, mapped.side, mapped.regions))
    return marks
