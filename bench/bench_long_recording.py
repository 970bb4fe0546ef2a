"""A 24-hour recording reported through the streaming path, against the in-memory path, measured in the same run.

    python bench/bench_long_recording.py [--hours 24] [--reference-hours 1] [--short-minutes 20] [--tmp DIR]

Self-contained: in a temporary folder (removed afterwards) it writes 19-channel 200 Hz EDFs by repeating a
10-minute phantom block (left temporal slowing, a PDR; :func:`~neuronarrator.io.edf_tile.write_tiled_edf`,
16-bit samples: 657 MB for 24 h, checked against the free disk first): the long file, a
``--reference-hours`` file and a ``--short-minutes`` file. Each report runs in its own child process
(``neuronarrator.report.batch.report_files`` with the bundled model, JSON and HTML page, one torch
thread), so that its peak resident set (``ru_maxrss``) and its CPU time (user + system) are its own;
wall time is the child's. Rows:

- ``stream, long``: the long file through :mod:`neuronarrator.narrator.stream` (what ``neuronarrator report``
  does above :data:`~neuronarrator.narrator.stream.STREAM_ABOVE_S`);
- ``memory, reference`` and ``stream, reference``: the reference file both ways (the in-memory path holds
  the whole harmonized signal; the documents must agree);
- ``memory, short``: the usual 20-minute report, the time reference.

Ratios printed: peak RSS of the long streamed report over the in-memory reference (and over the streamed
reference: flat memory means ~1), and CPU seconds per recorded hour of the long streamed report over
those of the short in-memory report. The peak RSS includes the interpreter, torch and the models (the
"baseline" row: RSS of a child that only imports and loads the models).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK_S = 600


def _child(mode: str, edf: str, out: str) -> None:
    """One report (or only the model load, ``mode == "baseline"``) measured in this process; JSON to stdout."""
    import torch

    torch.set_num_threads(1)
    w0 = time.perf_counter()
    if mode == "baseline":
        from neuronarrator.narrator.bundled import resolve_model
        from neuronarrator.narrator.pipeline import Narrator
        from neuronarrator.report.html import render_html  # noqa: F401 - the imports a report makes

        paths = resolve_model(None)
        Narrator(paths.stage1, paths.narrator, device="cpu")
        result = {"ok": True, "seconds": {}}
    else:
        from neuronarrator.report.batch import report_files

        [report] = report_files([edf], out, stream_above_s=0.0 if mode == "stream" else math.inf, device="cpu")
        result = {"ok": report.ok, "error": report.error, "seconds": report.seconds}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result.update(wall_s=time.perf_counter() - w0, cpu_s=usage.ru_utime + usage.ru_stime,
                  peak_rss_mib=usage.ru_maxrss / 1024)  # fmt: skip
    print(json.dumps(result))


def _run(mode: str, edf: Path | None, out: Path) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, str(edf or ""), str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode:
        raise SystemExit(f"child {mode} {edf} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _write(folder: Path, hours: float, ref_hours: float, short_min: float) -> dict[str, Path]:
    from neuronarrator.clinical.phantom.files import EDF_LABELS
    from neuronarrator.clinical.phantom.generate import generate
    from neuronarrator.io.edf_tile import write_tiled_edf

    block = generate("focal_slowing:left:temporal", seed=0, duration_s=BLOCK_S, sfreq_hz=200).data_uv
    files = {}
    for name, seconds in (("long", hours * 3600), ("reference", ref_hours * 3600), ("short", short_min * 60)):
        repeats = max(1, round(seconds / BLOCK_S))
        files[name] = write_tiled_edf(folder / f"{name}.edf", block, 200, EDF_LABELS, repeats)
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--reference-hours", type=float, default=1.0)
    parser.add_argument("--short-minutes", type=float, default=20.0)
    parser.add_argument("--tmp", default=None, help="folder for the temporary EDFs (default: the system's)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    need_bytes = (args.hours + args.reference_hours + args.short_minutes / 60) * 3600 * 19 * 200 * 2 * 1.05
    folder = Path(tempfile.mkdtemp(prefix="bench_long_", dir=args.tmp))
    try:
        free = shutil.disk_usage(folder).free
        if free < 2 * need_bytes:
            raise SystemExit(f"{folder}: {free / 2**30:.1f} GiB free, need {2 * need_bytes / 2**30:.1f} GiB")
        t0 = time.perf_counter()
        files = _write(folder, args.hours, args.reference_hours, args.short_minutes)
        t_write = time.perf_counter() - t0
        rows = {"baseline (imports + models)": _run("baseline", None, folder / "out0")}
        for label, mode, name in (("memory, short", "memory", "short"), ("memory, reference", "memory", "reference"),
                                  ("stream, reference", "stream", "reference"), ("stream, long", "stream", "long")):
            rows[label] = _run(mode, files[name], folder / f"out-{mode}-{name}")
            if not rows[label]["ok"]:
                raise SystemExit(f"{label}: {rows[label]['error']}")
        docs = {}
        for mode in ("memory", "stream"):
            doc = json.loads((folder / f"out-{mode}-reference" / "reference.report.json").read_text())
            doc["provenance"]["harmonization"].pop("streamed", None)
            docs[mode] = doc
        same = docs["memory"] == docs["stream"]
        long_doc = json.loads((folder / "out-stream-long" / "long.report.json").read_text())
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    hours = {"memory, short": args.short_minutes / 60, "memory, reference": args.reference_hours,
             "stream, reference": args.reference_hours, "stream, long": args.hours}  # fmt: skip
    print(f"bench_long_recording: {args.hours:g} h / {args.reference_hours:g} h / {args.short_minutes:g} min "
          f"EDFs (19 ch, 200 Hz, a {BLOCK_S // 60}-min phantom block repeated; written in {t_write:.0f} s), "
          f"bundled model, JSON + HTML, 1 torch thread, each report in its own process")  # fmt: skip
    print(f"\n{'row':30s} {'wall s':>8s} {'CPU s':>8s} {'CPU s/h':>8s} {'peak RSS MiB':>13s}")
    for label, r in rows.items():
        per_hour = f"{r['cpu_s'] / hours[label]:8.1f}" if label in hours else f"{'':8s}"
        print(f"{label:30s} {r['wall_s']:8.1f} {r['cpu_s']:8.1f} {per_hour} {r['peak_rss_mib']:13.0f}")
    long, ref_m, ref_s, short = (rows[k] for k in ("stream, long", "memory, reference", "stream, reference",
                                                    "memory, short"))  # fmt: skip
    print(f"\nstages of the long report (s): {long['seconds']}")
    print(f"peak RSS, {args.hours:g}-h streamed / {args.reference_hours:g}-h in memory: "
          f"{long['peak_rss_mib'] / ref_m['peak_rss_mib']:.2f}x; / {args.reference_hours:g}-h streamed: "
          f"{long['peak_rss_mib'] / ref_s['peak_rss_mib']:.2f}x")  # fmt: skip
    print(f"CPU per recorded hour, {args.hours:g}-h streamed / {args.short_minutes:g}-min in memory: "
          f"{(long['cpu_s'] / args.hours) / (short['cpu_s'] / hours['memory, short']):.2f}x")  # fmt: skip
    print(f"{args.reference_hours:g}-h documents, streamed vs in memory: {'identical' if same else 'DIFFER'}")
    timeline = long_doc["state_timeline"]
    print(f"{args.hours:g}-h document: {long_doc['provenance']['n_segments']} segments, {len(timeline)} timeline "
          f"epochs covering {timeline[0]['start_s']:g}-{timeline[-1]['end_s']:g} s, findings "
          f"{[f['code'] for f in long_doc['findings']]}")  # fmt: skip


if __name__ == "__main__":
    main()
