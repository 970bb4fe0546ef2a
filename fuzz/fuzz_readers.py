"""Fuzz the EEG readers and the harmonizer: ``python fuzz/fuzz_readers.py --cases 5000 --seed 0``.

Two generators feed the same guarded worker (:mod:`harness`: memory cap, per-case time limit, crash
isolation) and the same contract (a valid result or a one-line project error naming the file):

1. **byte mutations** (default 80 % of the cases): a seeded, deterministic loop over the seed files
   (small valid EDF+/BDF+/multi-rate/bipolar EDFs, the real PhysioNet and Sleep-EDF files cut to a few
   records, a Sleep-EDF hypnogram, BrainVision, EEGLAB, FIF and Persyst recordings). Each case applies
   1-4 mutations to one file of a seed: bit flips, interesting bytes, inserted or deleted runs,
   truncation, a chunk duplicated, a header chunk spliced in from another seed, random bytes, and
   field-aware ones (an EDF header field or a ``key=value`` of a text header replaced by an interesting
   number). Positions are biased towards the header, where the parsing happens. Case ``i`` of seed ``S``
   depends on ``(S, i)`` only, so ``--only I`` replays it.
2. **structured EDF mutations** (:mod:`strategies`, Hypothesis): valid files with header fields that lie.
   Run here with a fixed Hypothesis seed and no example database, so runs are reproducible too.

Failures (any other exception, a contract violation, a timeout, a dead worker) are saved under
``--crashes`` (default ``fuzz/crashes/``, git-ignored) as the case's files plus ``case.json``;
``--replay DIR`` runs one saved case in this process and prints the traceback. ``--atheris`` runs
coverage-guided libFuzzer mutations instead, when the optional ``atheris`` package is installed.

Exit status: 0 when no case failed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # harness, strategies: plain scripts, no package

from harness import FIXED_FIELDS, SIGNAL_FIELDS, Case, Outcome, Worker, run_case, seed_cases  # noqa: E402

INTERESTING_BYTES = (0x00, 0xFF, 0x20, 0x2D, 0x2E, 0x30, 0x39, 0x7F, 0x80, 0x14, 0x15, 0x0A, 0x3D)
INTERESTING_NUMBERS = (b"-1", b"0", b"1", b"nan", b"inf", b"-inf", b"1e308", b"99999999", b"-9999999",
                       b"2147483648", b"0.000001", b"", b" ", b"-", b"1,5", b"\x00")  # fmt: skip
DEFAULT_CRASHES = Path(__file__).resolve().parent / "crashes"


def _edf_field_spans(data: bytes) -> list[tuple[int, int]]:
    """(offset, width) of every numeric-or-text header field of an EDF/BDF, from its signal count."""
    spans, offset = [], 0
    for _, width in FIXED_FIELDS:
        spans.append((offset, width))
        offset += width
    try:
        n_signals = max(0, min(int(data[252:256]), 512))
    except ValueError:
        return spans
    for _, width in SIGNAL_FIELDS:
        for i in range(n_signals):
            spans.append((offset + i * width, width))
        offset += width * n_signals
    return [(o, w) for o, w in spans if o + w <= len(data)]


def _header_length(name: str, data: bytes) -> int:
    if name.endswith((".edf", ".bdf")) and len(data) >= 256:
        try:
            return min(256 * (int(data[252:256]) + 1), len(data))
        except ValueError:
            return 256
    return min(len(data), 4096)


def _position(rng: random.Random, name: str, data: bytes) -> int:
    """A position, in the header with probability 0.7 (where the parsing happens)."""
    if not data:
        return 0
    if rng.random() < 0.7:
        return rng.randrange(max(_header_length(name, data), 1))
    return rng.randrange(len(data))


def mutate(rng: random.Random, name: str, data: bytes, donors: list[bytes]) -> tuple[bytes, str]:
    """Apply one random mutation to ``data`` (the bytes of file ``name``); return it and its name."""
    buf = bytearray(data)
    kind = rng.choice(("bitflip", "byte", "insert", "delete", "truncate", "duplicate", "splice", "random",
                       "field", "field"))  # fmt: skip
    pos = _position(rng, name, data)
    if kind == "bitflip" and buf:
        for _ in range(rng.randint(1, 8)):
            i = _position(rng, name, data)
            buf[i] ^= 1 << rng.randrange(8)
    elif kind == "byte" and buf:
        buf[pos] = rng.choice(INTERESTING_BYTES)
    elif kind == "insert":
        buf[pos:pos] = rng.randbytes(rng.choice((1, 2, 8, 64, 256)))
    elif kind == "delete" and buf:
        del buf[pos : pos + rng.choice((1, 2, 8, 80, 256, 4096))]
    elif kind == "truncate":
        keep = pos if rng.random() < 0.5 else rng.randrange(len(buf) + 1)
        del buf[keep:]
    elif kind == "duplicate" and buf:
        size = rng.choice((8, 80, 256, 1024))
        src = rng.randrange(len(buf))
        buf[pos:pos] = buf[src : src + size]
    elif kind == "splice" and donors:
        donor = rng.choice(donors)
        start = rng.randrange(max(min(len(donor), 4096), 1))
        chunk = donor[start : start + rng.choice((8, 44, 256, 1024))]
        at = start if rng.random() < 0.5 else pos  # same offset (a field from another file) or anywhere
        buf[at : at + len(chunk)] = chunk
    elif kind == "random" and buf:
        size = rng.choice((1, 4, 16, 256))
        buf[pos : pos + size] = rng.randbytes(min(size, len(buf) - pos))
    elif kind == "field":
        buf = bytearray(_mutate_field(rng, name, bytes(buf)))
    return bytes(buf), kind


def _mutate_field(rng: random.Random, name: str, data: bytes) -> bytes:
    """Replace one header field (EDF) or one ``key=value`` value (text headers) by an interesting number."""
    number = rng.choice(INTERESTING_NUMBERS)
    if name.endswith((".edf", ".bdf")):
        spans = _edf_field_spans(data)
        if not spans:
            return data
        offset, width = rng.choice(spans)
        return data[:offset] + number[:width].ljust(width, b" ") + data[offset + width :]
    if name.endswith((".vhdr", ".vmrk", ".lay")):
        lines = data.split(b"\n")
        keyed = [i for i, line in enumerate(lines) if b"=" in line]
        if keyed:
            i = rng.choice(keyed)
            key, _, value = lines[i].partition(b"=")
            parts = value.split(b",")
            j = rng.randrange(len(parts))
            parts[j] = number
            lines[i] = key + b"=" + b",".join(parts)
            if rng.random() < 0.2:
                del lines[rng.randrange(len(lines))]
        return b"\n".join(lines)
    return data  # binary formats without a text header (FIF, .set, .eeg data): the byte mutations only


def byte_case(seeds: list[Case], seed: int, index: int) -> Case:
    """Case ``index`` of the byte-mutation loop for ``seed`` (a pure function of both)."""
    rng = random.Random(f"bytes:{seed}:{index}")
    base = seeds[index % len(seeds)]
    # the main file mostly; a companion file (BrainVision .eeg/.vmrk, Persyst .dat, ...) otherwise
    names = sorted(base.files)
    name = base.main if len(names) == 1 or rng.random() < 0.7 else rng.choice(names)
    donors = [data for case in seeds for data in case.files.values()]
    data, kinds = base.files[name], []
    for _ in range(rng.choice((1, 1, 2, 3, 4))):
        data, kind = mutate(rng, name, data, donors)
        kinds.append(kind)
    strict = rng.random() < 0.75
    return Case(f"{base.name}:{name}:{'+'.join(kinds)}", base.main, {**base.files, name: data}, strict=strict,
                target=base.target)  # fmt: skip


def run_structured(n: int, seed: int, each: Callable[[int, Case], None]) -> None:
    """Call ``each(index, case)`` on ``n`` cases drawn from :func:`strategies.edf_cases` (fixed seed,
    no example database, no shrinking: every draw is one case, as in the byte loop)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed
    from strategies import edf_cases

    count = 0

    @hypothesis_seed(seed)
    @settings(max_examples=n, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(edf_cases())
    def collect(case: Case) -> None:
        nonlocal count
        if count < n:
            each(count, case)
            count += 1

    collect()


class Tally:
    """Counts of outcomes, overall and per seed, and the saved failures."""

    def __init__(self, crashes: Path | None):
        self.crashes = crashes
        self.outcomes: Counter[str] = Counter()
        self.project: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.by_source: dict[str, Counter[str]] = {}
        self.saved: list[str] = []
        self.slowest_s = 0.0

    def add(self, label: str, case: Case, outcome: Outcome) -> None:
        self.outcomes[outcome.kind] += 1
        source = case.name.split(":")[0] if not case.name.startswith("hyp:") else case.name.split(":")[1]
        self.by_source.setdefault(source, Counter())[outcome.kind] += 1
        self.slowest_s = max(self.slowest_s, outcome.seconds)
        if outcome.kind == "project":
            self.project[outcome.detail] += 1
        elif outcome.kind == "failure":
            self.failures[outcome.detail] += 1
            print(f"FAIL {label} {case.name}: {outcome.detail}: {outcome.message.splitlines()[0] if outcome.message else ''}",
                  flush=True)  # fmt: skip
            if self.crashes is not None:
                self.saved.append(str(save_case(self.crashes / f"{label}-{outcome.detail}", case, outcome)))


def save_case(folder: Path, case: Case, outcome: Outcome) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in case.files.items():
        (folder / name).write_bytes(data)
    meta = {"name": case.name, "main": case.main, "strict": case.strict, "target": case.target,
            "outcome": outcome.detail, "message": outcome.message}  # fmt: skip
    (folder / "case.json").write_text(json.dumps(meta, indent=1))
    return folder


def replay(folder: Path) -> int:
    """Run one saved case in this process, with the logs on, and print the outcome."""
    import logging
    import tempfile

    logging.basicConfig(level=logging.DEBUG)
    meta = json.loads((folder / "case.json").read_text())
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.name != "case.json"}
    case = Case(meta["name"], meta["main"], files, strict=meta["strict"], target=meta["target"])
    with tempfile.TemporaryDirectory() as tmp:
        outcome = run_case(case, Path(tmp))
    print(f"{outcome.kind}: {outcome.detail}\n{outcome.message}")
    return 1 if outcome.kind == "failure" else 0


def run_atheris(seeds: list[Case], argv: list[str]) -> int:
    """Coverage-guided mutations of the seed files' main bytes (libFuzzer via atheris), in process."""
    import tempfile

    import atheris

    folder = Path(tempfile.mkdtemp(prefix="nn-atheris-"))
    with atheris.instrument_imports():
        import neuronarrator.io.harmonize  # noqa: F401
        import neuronarrator.io.read  # noqa: F401

    def one_input(data: bytes) -> None:
        if not data:
            return
        base = seeds[data[0] % len(seeds)]
        outcome = run_case(base.with_main_bytes(data[1:]), folder)
        if outcome.kind == "failure":
            raise AssertionError(f"{outcome.detail}: {outcome.message}")

    atheris.Setup(argv, one_input)
    atheris.Fuzz()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=1000, help="number of cases in all (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="the run's seed (default 0)")
    parser.add_argument(
        "--structured-fraction",
        type=float,
        default=0.2,
        help="share of the cases from the Hypothesis EDF strategies (default 0.2)",
    )
    parser.add_argument("--out", type=Path, help="write the counts as JSON here")
    parser.add_argument("--crashes", type=Path, default=DEFAULT_CRASHES, help="folder for failing cases")
    parser.add_argument("--timeout-s", type=float, default=10.0, help="per-case time limit (default 10 s)")
    parser.add_argument(
        "--memory-mb", type=int, default=1024, help="worker memory cap above its baseline, MiB"
    )
    parser.add_argument("--only", type=int, help="run only byte-mutation case number ONLY")
    parser.add_argument("--no-real-files", action="store_true", help="leave out the ../shared/data seeds")
    parser.add_argument("--replay", type=Path, help="run one saved case (a folder under --crashes)")
    parser.add_argument(
        "--atheris",
        nargs=argparse.REMAINDER,
        help="coverage-guided fuzzing with atheris (optional); libFuzzer flags follow",
    )
    args = parser.parse_args(argv)

    if args.replay:
        return replay(args.replay)
    seeds = seed_cases(real_files=not args.no_real_files)
    if args.atheris is not None:
        return run_atheris(seeds, [sys.argv[0], *args.atheris])

    n_structured = 0 if args.only is not None else int(round(args.cases * args.structured_fraction))
    n_bytes = 1 if args.only is not None else args.cases - n_structured
    indices = [args.only] if args.only is not None else range(n_bytes)
    tally = Tally(args.crashes)
    begin = time.perf_counter()
    with Worker(memory_mb=args.memory_mb, timeout_s=args.timeout_s) as worker:
        for index in indices:
            case = byte_case(seeds, args.seed, index)
            tally.add(f"s{args.seed}-b{index}", case, worker.run(case))
            if (index + 1) % 500 == 0:
                print(f"... {index + 1} byte cases, {dict(tally.outcomes)}", flush=True)
        if n_structured:
            run_structured(
                n_structured,
                args.seed,
                lambda index, case: tally.add(f"s{args.seed}-h{index}", case, worker.run(case)),
            )
        restarts = worker.restarts
    seconds = time.perf_counter() - begin

    report = {
        "command": " ".join(["python fuzz/fuzz_readers.py", *(argv if argv is not None else sys.argv[1:])]),
        "seed": args.seed,
        "cases": sum(tally.outcomes.values()),
        "byte_mutation_cases": len(indices),
        "structured_cases": n_structured,
        "seed_files": [case.name for case in seeds],
        "valid": tally.outcomes["valid"],
        "project_errors": sum(tally.project.values()),
        "project_errors_by_class": dict(tally.project.most_common()),
        "failures": sum(tally.failures.values()),
        "failures_by_kind": dict(tally.failures.most_common()),
        "by_source": {name: dict(counts) for name, counts in sorted(tally.by_source.items())},
        "worker_restarts": restarts,
        "slowest_case_s": round(tally.slowest_s, 3),
        "seconds": round(seconds, 1),
        "saved_failures": tally.saved,
    }
    print(json.dumps(report, indent=1))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
