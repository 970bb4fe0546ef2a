"""How fast the phantom makes 10-s, 19-channel segments on one core, and what a 160K corpus would cost.

    python bench/bench_phantom.py [--segments 400] [--duration-s 10]

The measurement runs in a child process with every BLAS/OpenMP/torch pool limited to one thread
(``OMP_NUM_THREADS=1`` and friends, set before numpy is imported), so the figure is per core. Three
case mixes are timed, each after one warm-up call (imports, MNE's montage, Cholesky caches):

- ``drawn``: ``generate(None)``, state and findings drawn at the phantom's prevalence (the corpus mix);
- ``normal``: an awake normal record (background, PDR, eye opening, blinks);
- ``heavy``: focal slowing + spikes + muscle + ECG + line noise (many generators at once);
- ``reference``: the simplest stand-in, independent 1/f noise on 19 channels (white noise shaped by one
  FFT filter) — what a phantom costs at the least; the ratios say what the realism costs on top.

The projection for NeuroCorpus-160K assumes the ``drawn`` rate and two worker processes, one per core.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

CORPUS_SEGMENTS = 160_000
WORKERS = 2
CASES = {
    "drawn": None,
    "normal": "",
    "heavy": "focal_slowing:left:temporal,focal_epileptiform:left:temporal,muscle_artifact,ecg_artifact,line_noise",
}
SINGLE_THREAD_ENV = {
    name: "1"
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                 "VECLIB_MAXIMUM_THREADS")
}  # fmt: skip


def _child(segments: int, duration_s: float) -> dict[str, float]:
    try:  # the corpus workers import torch too; keep its pool at one thread as well
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    import numpy as np

    from neuronarrator.clinical.phantom import generate
    from neuronarrator.signal.synthetic import pink_noise_uv

    def reference(seed: int) -> np.ndarray:
        return pink_noise_uv(seed, 19, int(duration_s * 200), 200.0).astype(np.float32)

    reference(0)
    start = time.perf_counter()
    for seed in range(segments):
        reference(seed)
    rates = {"reference": segments / (time.perf_counter() - start)}
    for name, findings in CASES.items():
        generate(findings, seed=10**6, duration_s=duration_s)  # warm-up
        start = time.perf_counter()
        for seed in range(segments):
            generate(findings, seed=seed, duration_s=duration_s)
        rates[name] = segments / (time.perf_counter() - start)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=400)
    parser.add_argument("--duration-s", type=float, default=10.0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.segments, args.duration_s)))
        return
    env = {**os.environ, **SINGLE_THREAD_ENV}
    out = subprocess.run(
        [sys.executable, __file__, "--child", "--segments", str(args.segments), "--duration-s", str(args.duration_s)],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    rates = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"phantom, {args.duration_s:g}-s 19-channel segments at 200 Hz, one thread ({args.segments} each):")
    reference = rates.pop("reference")
    print(f"  {'reference':9s} {reference:8.1f} segments/s/core  ({1000.0 / reference:5.2f} ms each)  1/f noise only")
    for name, rate in rates.items():
        print(f"  {name:9s} {rate:8.1f} segments/s/core  ({1000.0 / rate:5.2f} ms each)  "
              f"{reference / rate:5.1f}x the reference's time; target >= 100/s: {rate / 100.0:.2f}x")  # fmt: skip
    hours = CORPUS_SEGMENTS / (WORKERS * rates["drawn"]) / 3600.0
    print(f"NeuroCorpus-160K ({CORPUS_SEGMENTS:,} drawn segments) on {WORKERS} cores: {hours * 60:.1f} min "
          f"of generation (storage not included)")  # fmt: skip


if __name__ == "__main__":
    main()
