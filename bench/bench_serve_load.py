"""The web server under concurrent load, against the same reports made in-process, measured in the same run.

    python bench/bench_serve_load.py [--n 20] [--seconds 20] [--model DIR]

Self-contained: in a temporary folder (removed afterwards) it writes ``--n`` phantom EDFs (19 channels,
200 Hz), each different (findings rotate through a list, seeds differ, durations are ``--seconds`` + i s),
then measures, with the model loaded beforehand in both cases (the bundled model unless ``--model``):

- the reference: the same ``--n`` reports made one after another in this process, doing what a server job
  does (:func:`~neuronarrator.narrator.pipeline.recording_signal`, ``Narrator.document``, the report
  figures and the HTML page);
- the server: ``neuronarrator serve`` started through the CLI in a child process on 127.0.0.1 (a free
  port), and ``--n`` client threads released together, each uploading its own file, polling its job every
  50 ms and fetching its report document -- one user each.

Every report the server returns is checked against its own upload: the SHA-256 and size the server
recorded, the file name, the duration and the channels, and the findings the reference found in the same
file; the run fails if any report is lost or mixed up. Printed: wall time, reports/s, and the p50/p95/max
latency of one report (the in-process call; for the server, upload start to report fetched), with the
server's figures as ratios to the reference's. The server runs one job at a time (``serve/jobs.py``), so
concurrency buys no speed: the ratio shows what HTTP, the queue and polling cost, and the latency is the
queue's length. The machine's other load counts: compare ratios, not seconds, between machines.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

FINDINGS = ["", "focal_slowing:left:temporal", "generalized_slowing", "excess_beta",
            "focal_slowing:right:frontal", "muscle_artifact", "asymmetry", "eye_movement_artifact"]  # fmt: skip


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _write(folder: Path, n: int, seconds: float) -> dict[str, bytes]:
    from neuronarrator.clinical.phantom import write_phantom

    files = {}
    for i in range(n):
        path, _ = write_phantom(folder / f"user{i:02d}.edf", FINDINGS[i % len(FINDINGS)], seed=100 + i,
                                duration_s=seconds + i)  # fmt: skip
        files[path.name] = path.read_bytes()
    return files


def _reference(folder: Path, files: dict[str, bytes], model: str | None) -> dict:
    """The same reports in this process, one after another (the model loaded first, not timed)."""
    from neuronarrator.narrator.bundled import resolve_model
    from neuronarrator.narrator.pipeline import Narrator, recording_signal
    from neuronarrator.report.html import render_html, report_figures

    paths = resolve_model(model)
    narrator = Narrator(paths.stage1, paths.narrator)
    latencies, documents = [], {}
    start = time.perf_counter()
    for name in files:
        t0 = time.perf_counter()
        signal, info = recording_signal(folder / name)
        document = narrator.document(signal, info, model_name=paths.name).to_dict()
        figures = report_figures(document, signal.data_uv, signal.channel_mask, signal.montage)
        render_html(document, figures, title=f"EEG report: {name}")
        latencies.append(time.perf_counter() - t0)
        documents[name] = document
    return {"wall": time.perf_counter() - start, "latencies": latencies, "documents": documents}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(port: int, model: str | None, work: Path) -> subprocess.Popen:
    import httpx

    command = [sys.executable, "-c", "import sys; from neuronarrator.cli import main; sys.exit(main(sys.argv[1:]))",
               "serve", "--host", "127.0.0.1", "--port", str(port)] + (["--model", model] if model else [])  # fmt: skip
    env = {**os.environ, "TMPDIR": str(work)}  # the server's work area, to check it is emptied
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server stopped: {server.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()["model"] == "ready":
                return server
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not become ready in 120 s")


def _load(port: int, files: dict[str, bytes]) -> dict:
    """``len(files)`` users at once, each with its own connection, file and job."""
    import httpx

    barrier = threading.Barrier(len(files) + 1)
    results: dict[str, dict] = {}

    def user(name: str, data: bytes) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
            barrier.wait()
            t0 = time.perf_counter()
            created = client.post("/api/jobs", files={"file": (name, data, "application/octet-stream")})
            accepted = time.perf_counter() - t0
            if created.status_code != 202:
                results[name] = {"error": f"{created.status_code} {created.text}"}
                return
            job = created.json()["id"]
            while (status := client.get(f"/api/jobs/{job}").json())["status"] in ("queued", "running"):
                time.sleep(0.05)
            report = client.get(f"/api/jobs/{job}/report.json")
            results[name] = {"latency": time.perf_counter() - t0, "accepted": accepted, "status": status,
                             "document": report.json() if report.status_code == 200 else None, "id": job}  # fmt: skip

    threads = [threading.Thread(target=user, args=item) for item in files.items()]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    return {"wall": time.perf_counter() - start, "results": results}


def _check(files: dict[str, bytes], reference: dict, served: dict) -> tuple[list[str], int]:
    """Problems (lost or mixed-up reports), and how many reports found what the reference found."""
    problems, same_findings = [], 0
    ids = {r.get("id") for r in served["results"].values()}
    if len(ids) != len(files):
        problems.append(f"{len(ids)} distinct job ids for {len(files)} uploads")
    for name, data in files.items():
        result = served["results"].get(name, {"error": "no result"})
        document = result.get("document")
        if document is None:
            problems.append(f"{name}: {result.get('error') or result.get('status')}")
            continue
        recording, expected = document["recording"], reference["documents"][name]["recording"]
        checks = {"sha256": (recording.get("sha256"), hashlib.sha256(data).hexdigest()),
                  "bytes": (recording.get("bytes"), len(data)), "file": (recording.get("file"), name),
                  "duration_s": (recording.get("duration_s"), expected["duration_s"]),
                  "channels_used": (recording.get("channels_used"), expected["channels_used"])}  # fmt: skip
        problems += [f"{name}: {k} {got!r} != {want!r}" for k, (got, want) in checks.items() if got != want]
        codes = [f["code"] for f in document["findings"]]
        same_findings += codes == [f["code"] for f in reference["documents"][name]["findings"]]
    return problems, same_findings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20, help="uploads, all at once (default 20)")
    parser.add_argument("--seconds", type=float, default=20, help="shortest recording, s (default 20)")
    parser.add_argument("--model", default=None, help="a model directory (default: the bundled model)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-serve-load-"))
    server = None
    try:
        files = _write(folder, args.n, args.seconds)
        reference = _reference(folder, files, args.model)
        work = folder / "server-tmp"
        work.mkdir()
        port = _free_port()
        server = _start_server(port, args.model, work)
        served = _load(port, files)
        problems, same_findings = _check(files, reference, served)
        server.terminate()
        server.wait(60)
        left = [str(p) for p in work.rglob("*")]
    finally:
        if server is not None and server.poll() is None:
            server.kill()
        shutil.rmtree(folder, ignore_errors=True)

    ok = [r for r in served["results"].values() if r.get("document") is not None]
    ref_rate = args.n / reference["wall"]
    rate = len(ok) / served["wall"]
    print(f"bench_serve_load: {args.n} phantom EDFs (19 ch, 200 Hz, {args.seconds:g}-{args.seconds + args.n - 1:g} s), "
          f"model {args.model or 'bundled'}; server: `neuronarrator serve` on 127.0.0.1, one job at a time")  # fmt: skip
    print()
    print(
        f"{'':40s} {'wall s':>8s} {'reports/s':>10s} {'p50 s':>7s} {'p95 s':>7s} {'max s':>7s} {'rate / ref':>10s}"
    )
    rows = [("in-process, sequential (reference)", reference["wall"], ref_rate, reference["latencies"]),
            (f"server, {args.n} concurrent uploads", served["wall"], rate, [r["latency"] for r in ok])]  # fmt: skip
    for label, wall, r, lat in rows:
        print(f"{label:40s} {wall:8.2f} {r:10.3f} {_quantile(lat, .5):7.2f} {_quantile(lat, .95):7.2f} "
              f"{max(lat):7.2f} {r / ref_rate:10.2f}")  # fmt: skip
    accepted = [r["accepted"] for r in ok]
    print(f"{'  of which upload accepted (202)':40s} {'':8s} {'':10s} {_quantile(accepted, .5):7.2f} "
          f"{_quantile(accepted, .95):7.2f} {max(accepted):7.2f}")  # fmt: skip
    print()
    wrong = {p.split(":")[0] for p in problems}
    correct = sum(name not in wrong for name, r in served["results"].items() if r.get("document") is not None)
    print(f"correct: {correct}/{args.n} reports "
          f"are their own upload's (SHA-256, size, name, duration, channels); {same_findings}/{args.n} list "
          f"the reference's findings; server temporary files left after shutdown: {len(left)}")  # fmt: skip
    for problem in problems:
        print(f"  PROBLEM {problem}")
    if problems or left:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
