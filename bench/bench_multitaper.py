"""Speed and peak memory of the multitaper spectrogram against MNE, measured in the same run.

    python bench/bench_multitaper.py [--minutes 20] [--repeats 3]

Each implementation runs in its own child process so that peak memory (ru_maxrss, the peak resident
set) is its own: the figure reported is the increase over the process's resident size just before
the call (after imports and after the input exists). Times are the best of ``--repeats`` runs after one
warm-up. Three rows:

- ``mne``: ``mne.time_frequency.psd_array_multitaper`` on the same windows (the reference);
- ``neuronarrator``: ``multitaper_spectrogram`` (tapering, FFT, power, log);
- ``fft floor``: only the batched float32 FFT of the already-tapered windows, restricted to nothing
  else — the arithmetic any exact multitaper estimate must do, so ``neuronarrator / floor`` says how
  close to the physical limit the implementation runs on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

SFREQ_HZ = 200.0


def _make_data(minutes: float) -> np.ndarray:
    rng = np.random.default_rng(0)
    n_times = int(minutes * 60 * SFREQ_HZ)
    return (np.cumsum(rng.standard_normal((19, n_times)), axis=1) * 0.3 + rng.standard_normal((19, n_times)) * 10).astype(
        np.float32
    )


def _run_one(name: str, minutes: float, repeats: int) -> dict:
    from neuronarrator.signal.multitaper import dpss_tapers, multitaper_spectrogram, sliding_windows

    data_uv = _make_data(minutes)
    if name == "mne":
        from mne.time_frequency import psd_array_multitaper

        def call():
            windows = sliding_windows(data_uv.astype(np.float64), SFREQ_HZ, 5.0, 1.0)
            psd, _ = psd_array_multitaper(
                windows, SFREQ_HZ, fmin=0, fmax=32, bandwidth=2.0, normalization="full", verbose="error"
            )
            return np.log1p(psd)

    elif name == "neuronarrator":

        def call():
            return multitaper_spectrogram(data_uv, SFREQ_HZ).log_psd

    elif name == "fft_floor":
        import torch

        tapers = torch.tensor(dpss_tapers(1000, SFREQ_HZ, 2.0)[0], dtype=torch.float32)
        rows = torch.from_numpy(np.ascontiguousarray(sliding_windows(data_uv, SFREQ_HZ, 5.0, 1.0)).reshape(-1, 1000))
        tapered = [(rows[s : s + 128, None, :] * tapers).contiguous() for s in range(0, rows.shape[0], 128)]

        def call():
            with torch.inference_mode():
                for block in tapered:
                    torch.fft.rfft(block, dim=-1)

    else:
        raise SystemExit(f"unknown implementation {name}")
    call()  # warm-up (imports, thread pools, caches)
    rss_before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times_s = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times_s.append(time.perf_counter() - start)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"name": name, "best_s": min(times_s), "peak_extra_mb": (peak_kb - rss_before_kb) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(_run_one(args.one, args.minutes, args.repeats)))
        return
    rows = {}
    for name in ("mne", "neuronarrator", "fft_floor"):
        out = subprocess.run(
            [sys.executable, __file__, "--one", name, "--minutes", str(args.minutes), "--repeats", str(args.repeats)],
            check=True, capture_output=True, text=True, env=os.environ,
        )  # fmt: skip
        rows[name] = json.loads(out.stdout.strip().splitlines()[-1])
    ref = rows["mne"]["best_s"]
    print(f"multitaper spectrogram, {args.minutes:g} min × 19 ch at 200 Hz, 5 s windows / 1 s hop, 0–32 Hz, "
          f"2 Hz bandwidth; {os.cpu_count()} cores; best of {args.repeats}")  # fmt: skip
    print(f"{'implementation':<16}{'time (s)':>10}{'speed-up vs MNE':>18}{'peak extra RSS (MB)':>22}")
    for name, row in rows.items():
        print(f"{name:<16}{row['best_s']:>10.3f}{ref / row['best_s']:>17.1f}x{row['peak_extra_mb']:>22.1f}")
    floor = rows["fft_floor"]["best_s"]
    print(f"neuronarrator runs at {floor / rows['neuronarrator']['best_s']:.0%} of the FFT-only floor "
          f"({rows['neuronarrator']['best_s'] / floor:.2f}x its time)")  # fmt: skip


if __name__ == "__main__":
    main()
