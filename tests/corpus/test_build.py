"""Building a corpus: atomic shards, resuming to the identical manifest (after a clean stop, a partial
shard, a SIGKILL of the whole build, a SIGKILL of a worker), refusing to mix corpora."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from neuronarrator.corpus.build import build_corpus
from neuronarrator.corpus.manifest import file_digest
from neuronarrator.io.errors import CorpusError


def fake(fake_source, **listing) -> list:
    return [(fake_source, None, {"sessions": 6, "duration_s": 20.0, **listing})]


def partials(out: Path) -> list[str]:
    return [p.name for p in (out / "shards").iterdir() if ".partial-" in p.name]


def test_threads_and_synchronous_builds_are_identical(fake_source, tmp_path: Path) -> None:
    calls = []
    a = build_corpus(fake(fake_source), tmp_path / "a", shard_sessions=2, scheduler="synchronous",
                     progress=lambda done, total: calls.append((done, total)))  # fmt: skip
    b = build_corpus(fake(fake_source), tmp_path / "b", shard_sessions=2, scheduler="threads", n_workers=2)
    assert a.manifest_sha256 == b.manifest_sha256
    assert file_digest(tmp_path / "a/manifest.parquet") == file_digest(tmp_path / "b/manifest.parquet")
    assert calls[0] == (0, 3) and calls[-1] == (3, 3)


def test_rerun_of_a_finished_build_reuses_everything(fake_source, tmp_path: Path) -> None:
    first = build_corpus(fake(fake_source), tmp_path / "c", shard_sessions=2, scheduler="synchronous")
    again = build_corpus(fake(fake_source), tmp_path / "c", shard_sessions=2, scheduler="synchronous")
    assert (again.shards_built, again.shards_reused) == (0, 3)
    assert again.manifest_sha256 == first.manifest_sha256


def test_partial_shard_is_ignored_and_redone_and_lost_shards_rebuilt(fake_source, tmp_path: Path) -> None:
    clean = build_corpus(fake(fake_source), tmp_path / "clean", shard_sessions=2, scheduler="synchronous")
    out = tmp_path / "c"
    shutil.copytree(tmp_path / "clean", out)
    # as a build killed mid-way leaves it: shard 1 half-written under its partial name, no manifest or card
    shutil.rmtree(out / "shards/00002.zarr")
    os.rename(out / "shards/00001.zarr", out / "shards/.00001.zarr.partial-4242")
    (out / "shards/.00001.zarr.partial-4242/shard.json").unlink()
    (out / "shards/.00001.zarr.partial-4242/segments/c/0/0/0").write_bytes(b"half a chunk")
    for name in ("manifest.parquet", "card.json", "CARD.md"):
        (out / name).unlink()
    resumed = build_corpus(fake(fake_source), out, shard_sessions=2, scheduler="synchronous")
    assert (resumed.shards_reused, resumed.shards_built) == (1, 2)
    assert resumed.manifest_sha256 == clean.manifest_sha256
    assert partials(out) == []


def test_shard_holding_other_sessions_is_rebuilt(fake_source, tmp_path: Path) -> None:
    clean = build_corpus(fake(fake_source), tmp_path / "c", shard_sessions=2, scheduler="synchronous")
    info_path = tmp_path / "c/shards/00001.zarr/shard.json"
    info = json.loads(info_path.read_text())
    info["items"][0][1] = "renamed"  # as if the source's files changed since
    info_path.write_text(json.dumps(info))
    again = build_corpus(fake(fake_source), tmp_path / "c", shard_sessions=2, scheduler="synchronous")
    assert (again.shards_reused, again.shards_built) == (2, 1)
    assert again.manifest_sha256 == clean.manifest_sha256


def test_refuses_another_corpus_or_foreign_files_unless_forced(fake_source, tmp_path: Path) -> None:
    build_corpus(fake(fake_source), tmp_path / "c", shard_sessions=2, scheduler="synchronous")
    with pytest.raises(CorpusError, match="other parameters.*--force"):
        build_corpus(fake(fake_source), tmp_path / "c", shard_sessions=3, scheduler="synchronous")
    with pytest.raises(CorpusError, match="other parameters"):
        build_corpus(fake(fake_source, sessions=7), tmp_path / "c", shard_sessions=2, scheduler="synchronous")
    forced = build_corpus(fake(fake_source), tmp_path / "c", shard_sessions=3, scheduler="synchronous", force=True)
    assert forced.n_shards == 2 and sorted(p.name for p in (tmp_path / "c/shards").iterdir()) == ["00000.zarr", "00001.zarr"]
    (tmp_path / "d").mkdir()
    (tmp_path / "d/notes.txt").write_text("mine")
    with pytest.raises(CorpusError, match="files that are not a corpus"):
        build_corpus(fake(fake_source), tmp_path / "d", scheduler="synchronous")
    build_corpus(fake(fake_source), tmp_path / "d", scheduler="synchronous", force=True)
    assert (tmp_path / "d/notes.txt").read_text() == "mine"  # --force removes only what a build writes


# ------------------------------------------------------------------------------------------ kill tests
PHANTOM = [("phantom", None, {"sessions": 16, "duration_s": 20.0})]
PHANTOM_ARG = "phantom?sessions=16&duration_s=20"


@pytest.fixture(scope="module")
def clean_phantom(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Manifest digest of an uninterrupted build of :data:`PHANTOM` (2 sessions per shard)."""
    out = tmp_path_factory.mktemp("clean") / "c"
    return build_corpus(PHANTOM, out, shard_sessions=2, scheduler="synchronous").manifest_sha256


def _wait_for(condition, timeout_s: float, poll_s: float = 0.005):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(poll_s)
    return None


@pytest.mark.slow
def test_sigkill_of_the_whole_build_then_rerun_gives_the_identical_manifest(clean_phantom: str, tmp_path: Path) -> None:
    out = tmp_path / "c"
    argv = ["corpus", "build", PHANTOM_ARG, "--out", str(out), "--shard-sessions", "2", "--workers", "2"]
    code = f"import sys; from neuronarrator.cli import main; sys.exit(main({argv!r}))"
    log = (tmp_path / "build.log").open("w")
    process = subprocess.Popen([sys.executable, "-c", code], stdout=log, stderr=log, start_new_session=True)
    try:
        first = _wait_for(lambda: sorted((out / "shards").glob("0*.zarr")) if (out / "shards").is_dir() else None, 90)
        assert first, (tmp_path / "build.log").read_text()
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the build and its worker processes, at once
        process.wait()
    assert not (out / "manifest.parquet").exists(), "the build finished before it was killed: nothing tested"
    done = len(list((out / "shards").glob("0*.zarr")))
    assert 1 <= done < 8
    resumed = build_corpus(PHANTOM, out, shard_sessions=2, scheduler="synchronous")
    assert resumed.shards_reused >= done
    assert resumed.manifest_sha256 == clean_phantom
    assert partials(out) == []


@pytest.mark.slow
def test_sigkill_of_a_worker_mid_shard_still_gives_the_identical_manifest(clean_phantom: str, tmp_path: Path) -> None:
    from distributed import LocalCluster

    out = tmp_path / "c"
    killed: list[int] = []

    def kill_one_worker() -> None:
        def partial():
            shards = out / "shards"
            names = [p.name for p in shards.iterdir()] if shards.is_dir() else []
            return next((n for n in names if ".partial-" in n), None)

        name = _wait_for(partial, 90)
        if name:
            pid = int(name.rsplit("-", 1)[1])  # the worker process writing that shard
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        killer = threading.Thread(target=kill_one_worker)
        killer.start()
        # the scheduler hands the dead worker's shard to another worker (its nanny restarts it too): the
        # build finishes by itself, with the manifest of an undisturbed build
        report = build_corpus(PHANTOM, out, shard_sessions=2, scheduler=cluster.scheduler_address)
        killer.join()
    assert killed and killed[0] != os.getpid()
    assert report.manifest_sha256 == clean_phantom
    assert partials(out) == []
