"""How long `neuronarrator inspect` takes on a 20-minute and a 24-hour file, against loading the file.

    python bench/bench_inspect.py

Writes a 20-minute 19-channel EDF (256 Hz) and a 24-hour one (19 ch, 200 Hz, ~1.3 GB, in a temporary
folder; removed afterwards), then measures, best of 3 after a warm-up:

- reference: ``mne.io.read_raw_edf(..., preload=True)`` — reading the samples, what a tool that
  answers from the data would do at the least;
- ``inspect_file`` in-process (header + a bounded quality sample);
- the whole command ``neuronarrator inspect`` as a user runs it (interpreter start and imports included).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _best_s(call, repeats: int = 3) -> float:
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def _write_edf(path: Path, sfreq_hz: float, hours: float) -> None:
    """A plain EDF (no annotation channel) whose 1-s records repeat one block of noise: fast to write."""
    from neuronarrator.io.channels import CANONICAL_19

    def field(value: object, width: int) -> bytes:
        return f"{value}".ljust(width)[:width].encode("ascii")

    n_records, spr, ns = int(round(hours * 3600)), int(sfreq_hz), len(CANONICAL_19)
    header = b"".join([
        field(0, 8), field("X X X X", 80), field("Startdate X X X X", 80), field("01.01.20", 8),
        field("00.00.00", 8), field(256 * (ns + 1), 8), field("", 44), field(n_records, 8), field(1, 8), field(ns, 4),
        *[field(ch, 16) for ch in CANONICAL_19], *[field("AgAgCl", 80)] * ns, *[field("uV", 8)] * ns,
        *[field(-500, 8)] * ns, *[field(500, 8)] * ns, *[field(-32768, 8)] * ns, *[field(32767, 8)] * ns,
        *[field("", 80)] * ns, *[field(spr, 8)] * ns, *[field("", 32)] * ns,
    ])  # fmt: skip
    record = np.random.default_rng(0).integers(-3000, 3000, size=ns * spr).astype("<i2").tobytes()
    with open(path, "wb") as f:
        f.write(header)
        for _ in range(n_records // 100):
            f.write(record * 100)
        f.write(record * (n_records % 100))


def main() -> None:
    import mne

    from neuronarrator.summary import inspect_file

    folder = Path(tempfile.mkdtemp(prefix="bench-inspect-"))
    cli = str(Path(sys.executable).with_name("neuronarrator"))
    try:
        print(f"{'file':<24}{'MNE preload (s)':>16}{'inspect (s)':>13}{'ratio':>8}{'CLI wall (s)':>14}")
        for name, sfreq_hz, hours in (("20 min, 19 ch, 256 Hz", 256.0, 1 / 3), ("24 h, 19 ch, 200 Hz", 200.0, 24)):
            path = folder / "rec.edf"
            _write_edf(path, sfreq_hz, hours)
            load_s = _best_s(lambda p=path: mne.io.read_raw_edf(p, preload=True, verbose="error"), repeats=1 if hours > 1 else 3)
            inspect_s = _best_s(lambda p=path: inspect_file(p))
            cli_s = _best_s(lambda p=path: subprocess.run([cli, "inspect", str(p)], check=True, capture_output=True))
            print(f"{name:<24}{load_s:>16.3f}{inspect_s:>13.3f}{load_s / inspect_s:>7.0f}x{cli_s:>14.3f}")
            path.unlink()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
