"""How long one 20-minute recording takes to become the full report, against reading the file, measured in the same run.

    python bench/bench_narrate.py [--minutes 20] [--repeats 3] [--sfreq 256] [--threads 1]

Self-contained: in a temporary folder (removed afterwards) it writes a phantom EDF of ``--minutes``
(19 EEG channels and the phantom's EKG lead at ``--sfreq`` Hz, resampled to 200 Hz by harmonization; the report
reads ECG artifact off the lead), builds a tiny phantom corpus
(12 sessions of 30 s) and trains stage 1 and the narrator for a few steps with the model sizes of
``configs/narrator-tiny.yaml`` (speed does not depend on training quality; an untrained narrator that
never emits its end token writes the longest text, ``max_text_tokens - 1`` tokens, which is the slow
case). The measurement runs in a child process so that its resident-set high-water mark is its own,
not the training's.

Models are loaded once (the load time is reported separately, not in the totals); then, best of
``--repeats`` after one warm-up, process CPU time (``time.process_time``: every thread of the process,
so it exceeds wall time when torch uses several threads) and wall time of the full report and, timed
inside those same runs (each step's own best), of its steps:

- ``read + harmonize``: :func:`~neuronarrator.narrator.pipeline.recording_signal`;
- ``stage 1``: :func:`segment_predictions` (incl. per-channel relevance) + :func:`session_findings`;
- ``narrator features``: the narrator's segment features (frozen stage-1 encoder + band powers; the
  segment embeddings stage 1 computed are reused when the narrator's encoder has stage 1's weights, and
  so are the band powers of stage 1's scalp maps, as :func:`narrate_recording` does:
  :func:`~neuronarrator.narrator.pipeline.shares_encoder`);
- ``narrator generation``: the bridge and greedy decoding;
- ``repair``: :func:`repair_narrative` + the sentence links of the report document;
- ``full report``: the four above in sequence, as :func:`narrate_recording` runs them, models preloaded,
  with ``--threads`` torch intra-op threads (``narrate_recording``'s ``threads``, default 1; 0: torch's
  default, which the references below always use);
- ``narrate_recording (incl. load)``: the public call itself, which loads both checkpoints every time
  (no warm-up of its own: it runs after the full reports);
- the references: ``read + harmonize (alone)`` (what any pipeline reading this file must pay) and
  ``mne.io.read_raw_edf`` with ``preload=True`` of the same file.

Ratios ``full report / read+harmonize`` and ``full report / MNE read`` compare figures from this run
only. Peak memory of the full report: the ``tracemalloc`` peak of Python-tracked allocations (numpy
included, torch tensors not) in a separate untimed pass, and the increase of ``ru_maxrss`` over the
process's resident size after the models are loaded, over the full reports (warm-up included).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _setup(folder: Path, minutes: float, sfreq_hz: float, steps: int) -> dict:
    """The phantom EDF and the two tiny checkpoints, with the model sizes of configs/narrator-tiny.yaml."""
    import yaml

    from neuronarrator.clinical.phantom import write_phantom
    from neuronarrator.corpus.build import build_corpus
    from neuronarrator.train.config import stage_config
    from neuronarrator.train.stages import STAGES

    edf = folder / "recording.edf"
    start = time.perf_counter()
    write_phantom(edf, None, seed=0, duration_s=minutes * 60, sfreq_hz=sfreq_hz)
    t_edf = time.perf_counter() - start
    start = time.perf_counter()
    corpus = folder / "corpus"
    build_corpus([("phantom", None, {"sessions": 12, "duration_s": 30})], corpus, scheduler="synchronous")
    t_corpus = time.perf_counter() - start
    document = yaml.safe_load((ROOT / "configs" / "narrator-tiny.yaml").read_text())
    document["corpus"] = str(corpus)
    for name in ("stage1", "narrator"):
        section = document["stages"][name]
        section.update(steps=steps, batch_size=4, checkpoint=str(folder / f"{name}.pt"), log_every=steps,
                       checkpoint_every=None)  # fmt: skip
        section.pop("num_workers", None)
    start = time.perf_counter()
    for name in ("stage1", "narrator"):
        STAGES[name](stage_config(document, name), resume=False)
    t_train = time.perf_counter() - start
    return {"edf": str(edf), "stage1": str(folder / "stage1.pt"), "narrator": str(folder / "narrator.pt"),
            "setup_s": {"write_edf": t_edf, "corpus": t_corpus, "train": t_train}}  # fmt: skip


def _best(call, repeats: int, warm_up: bool = True) -> tuple[float, float]:
    """(best CPU s, best wall s) over ``repeats`` runs, after one warm-up run if ``warm_up``."""
    if warm_up:
        call()
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        call()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return min(cpu), min(wall)


class _Clock:
    """Per-step CPU and wall seconds of the runs of the full report; each step's best is kept."""

    def __init__(self) -> None:
        self.best: dict[str, list[float]] = {}
        self.last: dict[str, object] = {}

    def step(self, name: str, call):
        c0, w0 = time.process_time(), time.perf_counter()
        result = call()
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        old = self.best.setdefault(name, [cpu, wall])
        self.best[name] = [min(old[0], cpu), min(old[1], wall)]
        self.last[name] = result
        return result


def _measure(paths: dict, repeats: int, threads: int | None) -> dict:
    import mne
    import torch

    from neuronarrator.clinical.repair import repair_narrative
    from neuronarrator.narrator import narrate_recording, segment_predictions, session_findings
    from neuronarrator.narrator.document import sentence_links
    from neuronarrator.narrator.pipeline import recording_signal, shares_encoder, torch_threads
    from neuronarrator.train.narrator_stage import load_narrator, narrate, session_features
    from neuronarrator.train.stage1_stage import load_stage1

    edf, s1_path, n_path = paths["edf"], paths["stage1"], paths["narrator"]
    device = torch.device("cpu")

    def load():
        return load_stage1(s1_path, device), load_narrator(n_path, device)

    c0, w0 = time.process_time(), time.perf_counter()
    (stage1, calibration), bundle = load()
    first_load = {"cpu": time.process_time() - c0, "wall": time.perf_counter() - w0}
    load_cpu, load_wall = _best(load, repeats, warm_up=False)
    rss_loaded = _maxrss_mib()
    clock = _Clock()
    shared = shares_encoder(stage1, bundle.encoder)

    def features_of(signal, preds):
        if shared:
            return session_features(signal, embeddings=preds.embedding, band_power=preds.band_power)
        return session_features(signal, bundle.encoder, band_power=preds.band_power)

    def full():
        """narrate_recording's steps with the models already loaded."""
        with torch_threads(threads):
            return _full()

    def _full():
        signal, _ = clock.step("read + harmonize", lambda: recording_signal(edf))
        preds = clock.step("stage 1 (+relevance)", lambda: segment_predictions(stage1, calibration, signal))
        predicted = session_findings(preds, threshold=0.5)
        features = clock.step("narrator features", lambda: features_of(signal, preds))
        raw = clock.step("narrator generation", lambda: narrate(bundle, features))

        def repair():
            fixed, _, _ = repair_narrative(raw, predicted, rng=0, confident=0.5, supported=0.5)
            return fixed, sentence_links(fixed, predicted)

        clock.step("repair (+links)", repair)
        return preds, raw

    rows = {"full report": _best(full, repeats)}
    rss_full = _maxrss_mib()
    preds, raw = clock.last["stage 1 (+relevance)"], clock.last["narrator generation"]
    rows.update({name: tuple(v) for name, v in clock.best.items()})
    rows["narrate_recording (incl. load)"] = _best(
        lambda: narrate_recording(edf, s1_path, n_path, device="cpu", threads=threads), repeats, warm_up=False
    )
    rows["read + harmonize (alone)"] = _best(lambda: recording_signal(edf), repeats)
    rows["mne.io.read_raw_edf"] = _best(
        lambda: mne.io.read_raw_edf(edf, preload=True, verbose="error").get_data(), repeats
    )
    tracemalloc.start()
    full()
    _, trace_full = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    recording_signal(edf)
    _, trace_read = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    mne.io.read_raw_edf(edf, preload=True, verbose="error").get_data()
    _, trace_mne = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    n_tokens = len(bundle.model.lm.tokenizer(raw, add_special_tokens=False)["input_ids"])
    return {
        "rows": {k: {"cpu": v[0], "wall": v[1]} for k, v in rows.items()},
        "load": {"first": first_load, "cpu": load_cpu, "wall": load_wall},
        "rss_mib": {"after_load": rss_loaded, "after_full_report": rss_full, "end": _maxrss_mib()},
        "tracemalloc_mib": {"full report": trace_full / 2**20, "read + harmonize": trace_read / 2**20,
                            "mne.io.read_raw_edf": trace_mne / 2**20},
        "n_segments": int(preds.n_segments), "n_explained": int(preds.explained.sum()), "n_chars": len(raw), "n_tokens": n_tokens,
        "torch_threads": torch.get_num_threads(), "report_threads": threads or torch.get_num_threads(),
        "shared_encoder": shared, "max_new_tokens": bundle.max_new_tokens,
    }  # fmt: skip


def _report(args, paths: dict, m: dict) -> None:
    rows, ref_h, ref_m = m["rows"], m["rows"]["read + harmonize (alone)"], m["rows"]["mne.io.read_raw_edf"]
    print(f"bench_narrate: {args.minutes:g}-min phantom EDF (19 EEG ch + EKG, {args.sfreq:g} Hz), models of "
          f"configs/narrator-tiny.yaml ({args.steps} training steps), CPU, torch threads={m['report_threads']} "
          f"(references: {m['torch_threads']}), "
          f"best of {args.repeats}")  # fmt: skip
    s = paths["setup_s"]
    print(f"setup (not measured below): write EDF {s['write_edf']:.1f} s, corpus {s['corpus']:.1f} s, "
          f"training {s['train']:.1f} s")  # fmt: skip
    ld = m["load"]
    print(f"model load (stage 1 + narrator; not in the totals): first {ld['first']['cpu']:.3f} s CPU "
          f"{ld['first']['wall']:.3f} s wall (lazy imports included), then {ld['cpu']:.3f} s CPU {ld['wall']:.3f} s wall")  # fmt: skip
    print(f"{m['n_segments']} segments, {m['n_explained']} codes explained (one backward pass each per batch); "
          f"stage-1 embeddings reused by the narrator: {m['shared_encoder']}; narrative {m['n_chars']} chars"
          + f", {m['n_tokens']} tokens (limit {m['max_new_tokens']} new tokens)")  # fmt: skip
    print()
    print(f"{'step':34s} {'CPU s':>8s} {'wall s':>8s} {'CPU/harm.':>10s} {'CPU/MNE':>8s}")
    for name, r in rows.items():
        print(f"{name:34s} {r['cpu']:8.3f} {r['wall']:8.3f} {r['cpu'] / ref_h['cpu']:10.2f} "
              f"{r['cpu'] / ref_m['cpu']:8.2f}")  # fmt: skip
    full = rows["full report"]
    print()
    for label, ref in (("read+harmonize", ref_h), ("MNE read", ref_m)):
        print(f"full report / {label}: {full['cpu'] / ref['cpu']:.2f}x CPU, {full['wall'] / ref['wall']:.2f}x wall")
    verdict = "holds" if full["cpu"] < 5.0 else "does NOT hold"
    aim = "met" if full["cpu"] < 1.0 else "not met"
    print(f"'< 5 s CPU once the model is loaded' {verdict} on this machine ({full['cpu']:.2f} s CPU); "
          f"the 1 s aim is {aim}")  # fmt: skip
    t, r = m["tracemalloc_mib"], m["rss_mib"]
    print(f"peak memory, tracemalloc (Python/numpy, not torch tensors): full report {t['full report']:.1f} MiB, "
          f"read+harmonize {t['read + harmonize']:.1f} MiB, MNE read {t['mne.io.read_raw_edf']:.1f} MiB")  # fmt: skip
    print(f"peak memory, RSS high-water: {r['after_load']:.0f} MiB after imports + model load -> "
          f"{r['after_full_report']:.0f} MiB after the full reports (+{r['after_full_report'] - r['after_load']:.0f} MiB); "
          f"{r['end']:.0f} MiB at the end (references and narrate_recording included)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sfreq", type=float, default=256.0)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads of the report "
                        "(narrate_recording's threads); 0: torch's default")  # fmt: skip
    parser.add_argument("--steps", type=int, default=3, help="training steps of each stage (speed only)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--measure", type=Path, default=None, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.measure is not None:
        print(json.dumps(_measure(json.loads(args.measure.read_text()), args.repeats, args.threads or None)))
        return
    folder = Path(tempfile.mkdtemp(prefix="bench_narrate_"))
    try:
        paths = _setup(folder, args.minutes, args.sfreq, args.steps)
        spec = folder / "paths.json"
        spec.write_text(json.dumps(paths))
        out = subprocess.run([sys.executable, __file__, "--measure", str(spec), "--repeats", str(args.repeats),
                              "--threads", str(args.threads)],
                             check=True, capture_output=True, text=True)  # fmt: skip
        figures = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    _report(args, paths, figures)
    if args.json is not None:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "setup": paths["setup_s"],
                                         **figures}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
