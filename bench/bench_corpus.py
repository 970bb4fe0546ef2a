"""NeuroCorpus: build speed with 1 and 2 workers, bytes on disk, and read speed against in-memory arrays.

    python bench/bench_corpus.py [--segments 2000] [--duration-s 100] [--shard-sessions 16] [--out DIR]

A phantom corpus of ``--segments`` 10-s segments (sessions of ``--duration-s``) is built twice on a
``distributed.LocalCluster`` of worker processes, with 1 and with 2 workers (the cluster is started
before the clock, so the times are the build's own, workers' first imports included). Reported:

- build: segments/s for each, the scaling ratio (2 workers / 1), the projected time of a 160K-segment
  build with 2 workers; the share of the build the corpus itself costs over the source adapter (the
  phantom generator), measured in-process on a few sessions;
- disk: bytes per segment, in total and for the int16 segments, the float16 topomaps, the manifest;
- topomaps: what caching costs (build ms/segment, bytes/segment) and saves (read ms/segment), from the
  same corpus read with the cached maps and with the maps computed from the waveform on the fly;
- reads: segments/s through a ``DataLoader`` (batch 64, ``ShardBlockSampler``; 0 and 2 workers) for
  waveform + topomap + findings targets, and the same through a uniformly random sampler; the reference
  is the same segments and maps as float32 arrays in memory and as plain ``.npy`` files (memory-mapped),
  read through the same ``DataLoader``; ratios corpus / reference.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler

CORPUS_SEGMENTS = 160_000
BATCH = 64


class ArrayDataset(Dataset):
    """The reference reader: waveform and topomap rows of float32 arrays (in memory or memory-mapped)."""

    def __init__(self, waveforms: np.ndarray, maps: np.ndarray, targets: np.ndarray) -> None:
        self.waveforms, self.maps, self.targets = waveforms, maps, targets
        self.shards = np.zeros(len(waveforms), np.int64)  # one "shard": the sampler then shuffles blocks
        self.rows = np.arange(len(waveforms))

    def __len__(self) -> int:
        return len(self.waveforms)

    def __getitem__(self, i: int) -> dict:
        return {"waveform": torch.from_numpy(np.array(self.waveforms[i])), "topomap": torch.from_numpy(np.array(self.maps[i])),
                "findings": torch.from_numpy(self.targets[i])}  # fmt: skip


def du_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def build_with_workers(sources: list, out: Path, n_workers: int, shard_sessions: int) -> float:
    import dask
    from distributed import Client, LocalCluster

    from neuronarrator.corpus.build import build_corpus

    # as build_corpus's own local cluster: without Dask's MALLOC_TRIM_THRESHOLD_ (see corpus/build.py)
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}), \
            LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        with Client(cluster) as client:
            client.wait_for_workers(n_workers)
        start = time.perf_counter()
        build_corpus(sources, out, shard_sessions=shard_sessions, scheduler=cluster.scheduler_address)
        return time.perf_counter() - start


def per_segment_costs(duration_s: float) -> tuple[float, float]:
    """ms per segment, in this process: the phantom adapter's ``load``, and the corpus's own work on the
    loaded sessions (labels, narratives, quantisation, topomaps, writing) through a stub adapter."""
    from neuronarrator.corpus.shard import build_shard
    from neuronarrator.corpus.sources import phantom

    items = list(phantom.list_items(None, sessions=9, duration_s=duration_s, seed=99))
    phantom.load(items[0])  # warm-up: imports, montage, caches
    start = time.perf_counter()
    loaded = {item.key: phantom.load(item) for item in items[1:]}
    n_segments = len(loaded) * int(duration_s // 10)
    adapter_ms = (time.perf_counter() - start) / n_segments * 1e3
    stub = types.ModuleType("bench_corpus_loaded_source")
    stub.load = lambda item: loaded[item.key]
    sys.modules[stub.__name__] = stub
    params = {"chunk_segments": 8, "cache_topomaps": True, "split_fractions": [0.8, 0.1, 0.1]}
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "shards").mkdir()
        build_shard(tmp, 0, items[1:2], {"phantom": stub.__name__}, params)  # warm-up
        start = time.perf_counter()
        build_shard(tmp, 1, items[1:], {"phantom": stub.__name__}, params)
        corpus_ms = (time.perf_counter() - start) / n_segments * 1e3
    return adapter_ms, corpus_ms


def read_rate(dataset: Dataset, sampler, n_workers: int, max_items: int) -> float:
    """segments/s through a DataLoader, over at most ``max_items`` (worker start-up included)."""
    loader = DataLoader(dataset, batch_size=BATCH, sampler=sampler, num_workers=n_workers)
    for i, _ in enumerate(DataLoader(dataset, batch_size=BATCH, sampler=sampler)):  # warm-up: first calls, imports
        if i == 2:
            break
    start, n = time.perf_counter(), 0
    for batch in loader:
        n += len(batch["waveform"])
        if n >= max_items:
            break
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=2000)
    parser.add_argument("--duration-s", type=float, default=100.0)
    parser.add_argument("--shard-sessions", type=int, default=16)
    parser.add_argument("--reads", type=int, default=20000, help="segments read per DataLoader measurement (at most)")
    parser.add_argument("--out", type=Path, help="keep the corpora here (default: a temporary directory)")
    args = parser.parse_args()
    from neuronarrator.corpus.datasets import SegmentDataset, ShardBlockSampler
    from neuronarrator.corpus.store import ShardReader, segment_topomaps, shard_path

    per_session = int(args.duration_s // 10)
    sessions = max(1, args.segments // per_session)
    segments = sessions * per_session
    sources = [("phantom", None, {"sessions": sessions, "duration_s": args.duration_s})]
    root = args.out or Path(tempfile.mkdtemp(prefix="bench_corpus_"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"NeuroCorpus bench: {segments} phantom segments ({sessions} sessions of {args.duration_s:g} s), "
          f"{args.shard_sessions} sessions/shard; {os.cpu_count()} cores")  # fmt: skip

    times = {}
    for n_workers in (1, 2):
        out = root / f"corpus_{n_workers}w"
        shutil.rmtree(out, ignore_errors=True)
        times[n_workers] = build_with_workers(sources, out, n_workers, args.shard_sessions)
        print(f"build, {n_workers} worker(s): {times[n_workers]:.1f} s = {segments / times[n_workers]:.1f} segments/s")
    rate2 = segments / times[2]
    print(f"scaling 2 workers / 1: {times[1] / times[2]:.2f}x; projected {CORPUS_SEGMENTS:,} segments with 2 "
          f"workers: {CORPUS_SEGMENTS / rate2 / 60:.0f} min (target < 45)")  # fmt: skip
    adapter_ms, corpus_ms = per_segment_costs(args.duration_s)
    print(f"per segment, one process: phantom adapter {adapter_ms:.1f} ms; the corpus's own work (labels, narratives, "
          f"quantisation, topomaps, writing) {corpus_ms:.1f} ms = {corpus_ms / (adapter_ms + corpus_ms):.0%} of the "
          f"build")  # fmt: skip

    corpus = root / "corpus_2w"
    shards = sorted((corpus / "shards").glob("*.zarr"))
    total, seg_bytes, map_bytes = du_bytes(corpus), 0, 0
    for shard in shards:
        seg_bytes += du_bytes(shard / "segments")
        map_bytes += du_bytes(shard / "topomaps")
    manifest = (corpus / "manifest.parquet").stat().st_size
    print(f"disk: {total / segments / 1024:.1f} KiB/segment in all; segments {seg_bytes / segments / 1024:.1f} KiB "
          f"(raw int16 {19 * 2000 * 2 / 1024:.1f} KiB, float32 {19 * 2000 * 4 / 1024:.1f} KiB), topomaps "
          f"{map_bytes / segments / 1024:.1f} KiB, manifest {manifest / segments / 1024:.2f} KiB; "
          f"160K segments: {total / segments * CORPUS_SEGMENTS / 1e9:.1f} GB")  # fmt: skip

    # topomaps: build cost per segment, read cost cached vs on the fly (maps stripped from a copy)
    reader = ShardReader(shard_path(corpus, 0))
    batch = reader.segments_uv(0, min(64, reader.n_rows))
    mask = reader.small("channel_mask")[0]
    segment_topomaps(batch, mask)
    start = time.perf_counter()
    segment_topomaps(batch, mask)
    build_map_ms = (time.perf_counter() - start) / len(batch) * 1e3
    nocache = root / "corpus_nocache"
    shutil.rmtree(nocache, ignore_errors=True)
    shutil.copytree(corpus, nocache)
    for shard in sorted((nocache / "shards").glob("*.zarr")):
        shutil.rmtree(shard / "topomaps")
    rates = {}
    for name, path in (("cached", corpus), ("on the fly", nocache)):
        ds = SegmentDataset(path, None, fields=("waveform", "topomap"))
        rates[name] = read_rate(ds, ShardBlockSampler(ds, seed=0), 0, args.reads)
    saved_ms = 1e3 / rates["on the fly"] - 1e3 / rates["cached"]
    print(f"topomap cache: costs {build_map_ms:.2f} ms/segment at build and {map_bytes / segments / 1024:.1f} KiB/segment; "
          f"saves {saved_ms:.2f} ms/segment per read (waveform+topomap reads: {rates['cached']:.0f}/s cached, "
          f"{rates['on the fly']:.0f}/s on the fly, {rates['cached'] / rates['on the fly']:.1f}x)")  # fmt: skip

    # reads: the corpus against float32 arrays in memory and .npy files
    fields = ("waveform", "topomap", "findings")
    ds = SegmentDataset(corpus, None, fields=fields)
    n_ref = min(len(ds), args.reads)
    waveforms = np.empty((n_ref, 19, 2000), np.float32)
    maps = np.empty((n_ref, 5, 32, 32), np.float32)
    targets = np.empty((n_ref, 23), np.float32)
    for i in range(n_ref):
        item = ds[i]
        waveforms[i], maps[i], targets[i] = item["waveform"], item["topomap"], item["findings"]
    npy_dir = root / "npy"
    npy_dir.mkdir(exist_ok=True)
    np.save(npy_dir / "waveforms.npy", waveforms)
    np.save(npy_dir / "maps.npy", maps)
    references = {
        "memory": ArrayDataset(waveforms, maps, targets),
        ".npy": ArrayDataset(np.load(npy_dir / "waveforms.npy", mmap_mode="r"), np.load(npy_dir / "maps.npy", mmap_mode="r"), targets),
    }  # fmt: skip
    print(f"reads (waveform + topomap + findings targets, batch {BATCH}, up to {args.reads} segments), segments/s:")
    print(f"{'reader':<34}{'0 workers':>12}{'2 workers':>12}")
    results = {}
    for name, make in (
        ("corpus, ShardBlockSampler", lambda d: ShardBlockSampler(d, seed=0)),
        ("corpus, uniform random", lambda d: RandomSampler(d, generator=torch.Generator().manual_seed(0))),
    ):
        results[name] = [read_rate(ds, make(ds), w, args.reads) for w in (0, 2)]
    for name, ref in references.items():
        results[f"reference: float32 in {name}"] = [read_rate(ref, RandomSampler(ref), w, args.reads) for w in (0, 2)]
    for name, (r0, r2) in results.items():
        print(f"{name:<34}{r0:>12.0f}{r2:>12.0f}")
    corpus0, corpus2 = results["corpus, ShardBlockSampler"]
    mem0, mem2 = results["reference: float32 in memory"]
    print(f"corpus / in-memory float32: {corpus0 / mem0:.2f}x (0 workers), {corpus2 / mem2:.2f}x (2 workers); "
          f"target >= 2,000 segments/s: {'met' if max(corpus0, corpus2) >= 2000 else 'NOT met'}")  # fmt: skip
    if args.out is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
