"""A long EDF written in constant memory by repeating one block of signal: for tests and benchmarks of long
recordings (a 24-hour, 19-channel file at 200 Hz is 657 MB of 16-bit samples, and writing it through MNE's
exporter would first hold 2.6 GB of float64).

The block (n_chans, n_times) µV is quantized once to 16 bits (each channel's physical range its min..max)
into 1-s data records; the file is the plain EDF header (no EDF+ annotation channel, whose time-keeping
stamps would have to change from one record to the next) followed by the block's records ``n_repeats``
times. The recording is therefore periodic with the block's period; a block that does not end where it
starts leaves a step at each seam, which filters see as a transient.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from neuronarrator.io.atomic import atomic_output

__all__ = ["write_tiled_edf"]

_DIGITAL_MIN, _DIGITAL_MAX = -32768, 32767


def _field(value: object, width: int) -> bytes:
    text = str(value)
    if len(text) > width:
        raise ValueError(f"EDF header field {text!r} is longer than {width} characters")
    return text.ljust(width).encode("ascii")


def _number(value: float) -> str:
    """``value`` in at most 8 characters (the EDF number fields)."""
    for digits in range(6, -1, -1):
        text = f"{value:.{digits}f}"
        if len(text) <= 8:
            return text
    raise ValueError(f"{value} does not fit an 8-character EDF field")


def write_tiled_edf(path: str | Path, block_uv: np.ndarray, sfreq_hz: int, labels: Sequence[str], n_repeats: int,
                    *, force: bool = False) -> Path:  # fmt: skip
    """Write ``block_uv`` (n_chans, n_times) µV at ``sfreq_hz`` (a whole number of samples per second,
    ``n_times`` a whole number of seconds) ``n_repeats`` times over as one EDF file (module docstring),
    atomically. Returns ``path``."""
    block = np.asarray(block_uv, np.float64)
    n_chans, n_times = block.shape
    sfreq_hz = int(sfreq_hz)
    if len(labels) != n_chans or n_times % sfreq_hz or n_times == 0 or n_repeats < 1:
        raise ValueError(f"need one label per channel ({len(labels)} for {n_chans}), whole seconds "
                         f"({n_times} samples at {sfreq_hz} Hz) and n_repeats >= 1 ({n_repeats})")  # fmt: skip
    if not np.isfinite(block).all():
        raise ValueError("block_uv holds NaN or infinite samples")
    low = [float(_number(v)) for v in np.floor(block.min(axis=1)) - 1.0]
    high = [float(_number(v)) for v in np.ceil(block.max(axis=1)) + 1.0]
    lo, hi = np.asarray(low)[:, None], np.asarray(high)[:, None]
    scaled = (block - lo) / (hi - lo) * (_DIGITAL_MAX - _DIGITAL_MIN) + _DIGITAL_MIN
    digital = np.clip(np.round(scaled), _DIGITAL_MIN, _DIGITAL_MAX).astype("<i2")
    n_records = n_times // sfreq_hz
    # record r holds, channel after channel, that channel's samples of second r
    records = digital.reshape(n_chans, n_records, sfreq_hz).transpose(1, 0, 2).tobytes()
    header_bytes = 256 * (1 + n_chans)
    header = b"".join([
        _field(0, 8), _field("X X X X", 80), _field("Startdate X X X X", 80), _field("01.01.00", 8),
        _field("00.00.00", 8), _field(header_bytes, 8), _field("", 44), _field(n_records * n_repeats, 8),
        _field(1, 8), _field(n_chans, 4),
        *(_field(label, 16) for label in labels), *(_field("AgAgCl electrode", 80) for _ in labels),
        *(_field("uV", 8) for _ in labels), *(_field(_number(v), 8) for v in low),
        *(_field(_number(v), 8) for v in high), *(_field(_DIGITAL_MIN, 8) for _ in labels),
        *(_field(_DIGITAL_MAX, 8) for _ in labels), *(_field("", 80) for _ in labels),
        *(_field(sfreq_hz, 8) for _ in labels), *(_field("", 32) for _ in labels),
    ])  # fmt: skip
    assert len(header) == header_bytes
    with atomic_output(Path(path), force=force) as tmp, open(tmp, "wb") as out:
        out.write(header)
        for _ in range(n_repeats):
            out.write(records)
    return Path(path)
