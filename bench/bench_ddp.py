"""Data-parallel training on CPU: 1 → 2 processes under torchrun, against one process, measured in one run.

    python bench/bench_ddp.py [--steps 10 40] [--batch-size 32] [--sessions 24]

Self-contained: in a temporary folder (removed afterwards) it builds a phantom corpus (``--sessions``
sessions of 20 s) and trains stage 1 with the model sizes and augmentation of
``configs/narrator-tiny.yaml`` (global batches of ``--batch-size`` segments) four ways:

- ``1 process × 1 thread``: the reference;
- ``1 process × 2 threads``: the alternative that needs no torchrun (torch's intra-op threads);
- ``2 processes × 1 thread``: ``torchrun --nproc_per_node 2`` (gloo), each rank half of every batch;
- ``2 processes × 1 thread, FSDP``: the same with ``parallel: fsdp`` (parameters gathered every step).

Each way runs twice, to the two ``--steps`` counts, as a fresh ``neuronarrator train stage1`` command;
the time per step is the difference of the two wall times over the difference of the steps, so process
start, corpus opening, validation and calibration (paid once per run) cancel. Speed-ups are against the
reference of this run; the scaling efficiency of 2 processes is speed-up / 2. On a machine whose cores
are busy with other work the figures say little: run it on an idle one.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).parent / "neuronarrator")


def stage1_section(checkpoint: Path, steps: int, batch_size: int, parallel: str) -> dict:
    tiny = yaml.safe_load((ROOT / "configs" / "narrator-tiny.yaml").read_text())["stages"]["stage1"]
    return {**tiny, "steps": steps, "batch_size": batch_size, "checkpoint": str(checkpoint),
            "checkpoint_every": None, "log_every": 1000, "schedule": "constant", "parallel": parallel}  # fmt: skip


def run(tmp: Path, corpus: Path, name: str, steps: int, batch_size: int, procs: int, threads: int,
        parallel: str) -> float:  # fmt: skip
    """Wall seconds of one fresh training command."""
    config = tmp / f"{name}-{steps}.yaml"
    checkpoint = tmp / f"{name}-{steps}.pt"
    section = stage1_section(checkpoint, steps, batch_size, parallel)
    config.write_text(yaml.safe_dump({"corpus": str(corpus), "seed": 0, "stages": {"stage1": section}}))
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    command = [CLI, "train", "stage1", "--config", str(config), "--no-resume"]
    if procs > 1:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs),
                   "--no-python", *command]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs=2, default=(10, 40))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sessions", type=int, default=24)
    args = parser.parse_args(argv)
    few, many = sorted(args.steps)
    if many <= few:
        parser.error("--steps needs two different counts")
    from neuronarrator.corpus.build import build_corpus

    ways = [("1 process × 1 thread", 1, 1, "ddp"), ("1 process × 2 threads", 1, 2, "ddp"),
            ("2 processes × 1 thread", 2, 1, "ddp"), ("2 processes × 1 thread, FSDP", 2, 1, "fsdp")]
    with tempfile.TemporaryDirectory(prefix="bench-ddp-") as folder:
        tmp = Path(folder)
        corpus = tmp / "corpus"
        build_corpus([("phantom", None, {"sessions": args.sessions, "duration_s": 20})], corpus,
                     scheduler="synchronous", split_fractions=(0.8, 0.2, 0.0))  # fmt: skip
        per_step = {}
        for name, procs, threads, parallel in ways:
            key = name.replace(" ", "").replace(",", "")
            t_few = run(tmp, corpus, key, few, args.batch_size, procs, threads, parallel)
            t_many = run(tmp, corpus, key, many, args.batch_size, procs, threads, parallel)
            per_step[name] = (t_many - t_few) / (many - few)
            print(f"{name}: {t_few:.1f} s for {few} steps, {t_many:.1f} s for {many} steps", flush=True)
    reference = per_step[ways[0][0]]
    print(f"\nstage 1 (configs/narrator-tiny.yaml sizes), global batch {args.batch_size}, "
          f"{os.cpu_count()} CPUs; steps {few} → {many}\n")  # fmt: skip
    print("| way | s / step | speed-up vs 1 × 1 | efficiency |")
    print("|---|---|---|---|")
    for name, procs, threads, _ in ways:
        speedup = reference / per_step[name]
        print(f"| {name} | {per_step[name]:.3f} | {speedup:.2f}× | {speedup / (procs * threads):.0%} |")


if __name__ == "__main__":
    main()
