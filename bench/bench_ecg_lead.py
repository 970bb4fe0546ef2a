"""How often ECG artifact is found from the recording's ECG lead, against the earlier statistic, in the same run.

    python bench/bench_ecg_lead.py [--sessions 150] [--seed 0]

Generates ``--sessions`` phantom sessions of 60 s from the training distribution and as many from the
shifted one, each with its ECG lead (the corpus source's ``ecg_lead=1``), and reads ECG artifact off the
lead with :func:`neuronarrator.signal.cardiac.ecg_artifact` (band-passed R-locked windows projected on
the lead's QRS template, Hotelling's T² over the rows, p <= 1e-4). The reference, measured on the same
sessions: the per-sample statistic the module used before, the largest |mean / standard error| of the
raw R-locked average over the window, called at >= 6 (with the same >= 2 µV peak-to-peak).

Printed per population: sessions whose truth lists ``ecg_artifact`` and how many each method calls
(recall), calls in sessions whose truth does not list it (false calls), the F1 of the code, and the
smallest p-value among sessions without ECG artifact (how close the null came to the bar). Deterministic
for a seed; about 10 s per 100 sessions on one core.
"""

from __future__ import annotations

import argparse

import numpy as np

from neuronarrator.corpus.sources import phantom
from neuronarrator.signal.cardiac import ALPHA, MIN_UV, ecg_artifact, r_peaks

FS = 200.0
WINDOW = (-20, 30)  # samples at 200 Hz: -100 to +150 ms, as the module's window
REFERENCE_Z = 6.0


def reference_call(eeg_uv: np.ndarray, mask: np.ndarray, peaks: np.ndarray) -> bool:
    """The earlier rule: the largest per-sample |t| of the raw R-locked average >= 6 with >= 2 µV
    peak-to-peak on some row."""
    peaks = peaks[(peaks + WINDOW[0] >= 0) & (peaks + WINDOW[1] <= eeg_uv.shape[1])]
    if len(peaks) < 10:
        return False
    epochs = eeg_uv[mask][:, peaks[:, None] + np.arange(*WINDOW)[None, :]].astype(np.float64)
    epochs -= epochs.mean(axis=2, keepdims=True)
    mean, sd = epochs.mean(axis=1), epochs.std(axis=1, ddof=1)
    z = np.abs(mean / np.maximum(sd / np.sqrt(len(peaks)), 1e-9)).max(axis=1)
    return bool(np.any((z >= REFERENCE_Z) & (np.ptp(mean, axis=1) >= MIN_UV)))


def f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / max(2 * tp + fp + fn, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"{'population':<10} {'with ECG':>8} {'method':<24} {'found':>6} {'false calls':>11} {'F1':>5} "
          f"{'smallest null p':>15}")  # fmt: skip
    for shift in (0, 1):
        rows = []
        for item in phantom.list_items(sessions=args.sessions, seed=args.seed, shift=shift, ecg_lead=True):
            data = phantom.load(item)
            lead = data.extra_uv[0]
            verdict = ecg_artifact(data.data_uv, lead, FS, data.channel_mask)
            reference = reference_call(data.data_uv, data.channel_mask, r_peaks(lead, FS))
            rows.append(("ecg_artifact" in data.findings.codes, verdict.present, reference, verdict.p_value))
        truth = np.array([r[0] for r in rows])
        null_p = min((r[3] for r in rows if not r[0]), default=1.0)
        for name, column in ((f"lead test (p <= {ALPHA:g})", 1), ("reference (max |t| >= 6)", 2)):
            called = np.array([r[column] for r in rows])
            tp, fp, fn = int((called & truth).sum()), int((called & ~truth).sum()), int((~called & truth).sum())
            print(f"{'shifted' if shift else 'training':<10} {int(truth.sum()):>8} {name:<24} {tp:>6} {fp:>11} "
                  f"{f1(tp, fp, fn):>5.2f} {null_p if column == 1 else float('nan'):>15.2g}")  # fmt: skip


if __name__ == "__main__":
    main()
