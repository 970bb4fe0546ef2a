"""Build a corpus in parallel, resumably: list every source, cut the list into shards, build the
shards that are not on disk yet on Dask, then derive the manifest and the card from the shards.

Determinism is what makes resuming safe. Items are listed in each adapter's deterministic order, sources
in the order given, and shard ``i`` is items ``[i * shard_sessions, (i + 1) * shard_sessions)``: a
shard's content depends on the listing only, never on which worker ran what or when. A shard on disk is
complete (it was renamed into place) and is reused when it holds the same items; the manifest is
rebuilt from the shards' own rows. So a build killed at any point and run again gives the same manifest
as an uninterrupted one.

Schedulers: ``None`` starts a :class:`distributed.LocalCluster` of worker processes (one thread each:
the work is NumPy and Python and does not scale with threads); ``"tcp://host:port"`` uses a running
cluster (workers must have neuronarrator installed and see ``out_dir`` at the same path);
``"threads"`` a threads-only local cluster; ``"synchronous"`` runs in this process without Dask
(debugging, small tests). On a cluster of your own, unset Dask's ``MALLOC_TRIM_THRESHOLD_`` for the
workers (config ``distributed.nanny.pre-spawn-environ``): with it a build runs ~2.8x slower (see
``_run_shards``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from neuronarrator.corpus.card import write_card
from neuronarrator.corpus.labels import SPLIT_FRACTIONS, split_of
from neuronarrator.corpus.manifest import (
    MANIFEST_NAME,
    concat_tables,
    read_table,
    table_digest,
    write_table,
    write_text,
)
from neuronarrator.corpus.shard import ShardTaskError, build_shard, shard_matches
from neuronarrator.corpus.sources.base import SessionItem
from neuronarrator.corpus.store import (
    CHUNK_SEGMENTS,
    FORMAT,
    ROWS_NAME,
    is_complete,
    read_shard_info,
    shard_path,
)
from neuronarrator.io.errors import CorpusError

logger = logging.getLogger(__name__)

BUILD_JSON = "build.json"
#: Sessions per shard. 32 phantom sessions of 100 s are ~24 MB of int16; 32 clinical 20-min sessions ~0.6 GB.
DEFAULT_SHARD_SESSIONS = 32
#: What a corpus directory may contain that the builder itself wrote (``--force`` removes only these).
OWNED = ("shards", MANIFEST_NAME, "card.json", "CARD.md", BUILD_JSON)

SourceArg = tuple[str | ModuleType, str | Path | None, dict[str, Any] | None]
Progress = Callable[[int, int], None]


@dataclass
class BuildReport:
    """What a build did.

    Attributes
    ----------
    out_dir : Path
    n_shards, shards_built, shards_reused : int
    sessions, segments : int
        Written into the corpus (all shards).
    skipped : list of dict
        ``source``, ``key``, ``file``, ``reason`` of every session skipped for bad input.
    manifest_sha256 : str
        :func:`~neuronarrator.corpus.manifest.table_digest` of the manifest.
    seconds : float
    """

    out_dir: Path
    n_shards: int
    shards_built: int
    shards_reused: int
    sessions: int
    segments: int
    skipped: list[dict[str, str]] = field(default_factory=list)
    manifest_sha256: str = ""
    seconds: float = 0.0


def _resolve(source: str | ModuleType) -> ModuleType:
    if isinstance(source, ModuleType):
        return source
    from neuronarrator.corpus.sources import UnknownSourceError, get_source

    try:
        return get_source(source)  # type: ignore[return-value]
    except UnknownSourceError as error:
        raise CorpusError(str(error)) from None


def build_parameters(
    sources: Sequence[SourceArg], *, shard_sessions: int, chunk_segments: int, cache_topomaps: bool,
    split_fractions: Sequence[float],
) -> dict[str, Any]:  # fmt: skip
    """The parameters that fix a corpus's content (``build.json``; a resume must match them)."""
    entries = []
    for source, root, options in sources:
        module = _resolve(source)
        entries.append({"name": module.name, "adapter": module.__name__,
                        "root": None if root is None else str(Path(root).resolve()),
                        "options": dict(sorted((options or {}).items()))})  # fmt: skip
    return {"format": FORMAT, "sources": entries, "shard_sessions": int(shard_sessions),
            "chunk_segments": int(chunk_segments), "cache_topomaps": bool(cache_topomaps),
            "split_fractions": [float(f) for f in split_fractions]}  # fmt: skip


def prepare_out_dir(out_dir: Path, params: dict[str, Any], *, force: bool) -> bool:
    """Make ``out_dir`` ready; True when resuming a build with the same parameters.

    Raises
    ------
    CorpusError
        ``out_dir`` holds something else (another corpus, other files) and ``force`` is false.
    """
    build_json = out_dir / BUILD_JSON
    resuming = False
    if out_dir.exists() and not out_dir.is_dir():
        raise CorpusError(f"{out_dir}: exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        previous = None
        if build_json.is_file():
            try:
                previous = json.loads(build_json.read_text(encoding="utf-8"))
            except ValueError:
                previous = None
        if previous == params:
            resuming = True
        elif force:
            for name in OWNED:
                target = out_dir / name
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
        else:
            what = "a corpus built with other parameters" if previous is not None else "files that are not a corpus"
            raise CorpusError(f"{out_dir}: holds {what}; choose another --out or pass --force to rebuild it")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "shards").mkdir(exist_ok=True)
    if not resuming:
        write_text(build_json, json.dumps(params, indent=1, sort_keys=True))
    return resuming


def list_sessions(params: dict[str, Any]) -> list[SessionItem]:
    """Every session of every source, sources in order, each in its adapter's order."""
    items: list[SessionItem] = []
    seen: set[tuple[str, str]] = set()
    for entry in params["sources"]:
        module = _resolve_adapter(entry["adapter"])
        root = None if entry["root"] is None else Path(entry["root"])
        try:
            listed = list(module.list_items(root, **entry["options"]))
        except (ValueError, TypeError) as error:  # a bad option or root: the user's request, one line
            raise CorpusError(f"source {entry['name']}: {error}") from None
        for item in listed:
            if (item.source, item.key) in seen:
                raise CorpusError(f"source {item.source!r} lists session {item.key!r} twice (two roots of one source "
                                  "with overlapping keys?)")  # fmt: skip
            seen.add((item.source, item.key))
            items.append(item)
    return items


def _resolve_adapter(path: str) -> ModuleType:
    import importlib

    return importlib.import_module(path)


def _describe(error: BaseException) -> str:
    # A ShardTaskError already names the session and the original exception's type.
    return str(error) if isinstance(error, ShardTaskError) else f"{type(error).__name__}: {error}"


def _run_shards(tasks: list[tuple[int, list[SessionItem]]], run_args: tuple, scheduler: Any, n_workers: int | None,
                progress: Progress | None, done: int, total: int) -> list[str]:  # fmt: skip
    """Build the shards in ``tasks``; returns one message per failed shard (the others are kept)."""
    out, adapters, params = run_args
    failures: list[str] = []
    if not tasks:
        return failures
    if scheduler == "synchronous":
        for index, items in tasks:
            try:
                build_shard(out, index, items, adapters, params)
            except Exception as error:  # noqa: BLE001 - reported per shard, the build goes on
                failures.append(f"shard {index:05d}: {_describe(error)}")
            done += 1
            if progress:
                progress(done, total)
        return failures
    import dask
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None or scheduler == "threads":
        processes = scheduler is None
        n = n_workers or len(os.sched_getaffinity(0))
        # Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in its workers, which turns off glibc's adaptive
        # mmap threshold: every array over 128 KB is then mmap-ed and unmapped again, and a worker spent
        # 2.8x the time of a plain process on page faults (bench_corpus.py). The dashboard goes on a free
        # port: two builds (or tests) at once must not fight over 8787.
        with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
            cluster = LocalCluster(n_workers=n if processes else 1, threads_per_worker=1 if processes else n,
                                   processes=processes, dashboard_address=":0", silence_logs=logging.ERROR)  # fmt: skip
        client = Client(cluster)
    elif isinstance(scheduler, str):
        client = Client(scheduler)
    else:
        raise ValueError(f"scheduler must be None, 'threads', 'synchronous' or an address, got {scheduler!r}")
    try:
        futures = {client.submit(build_shard, out, index, items, adapters, params, pure=False,
                                 key=f"neurocorpus-shard-{index:05d}-{time.time_ns()}"): index
                   for index, items in tasks}  # fmt: skip
        for future in as_completed(futures):
            try:
                future.result()
            except Exception as error:  # noqa: BLE001 - reported per shard, the build goes on
                failures.append(f"shard {futures[future]:05d}: {_describe(error)}")
            done += 1
            if progress:
                progress(done, total)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return failures


def build_corpus(
    sources: Sequence[SourceArg],
    out_dir: str | Path,
    *,
    shard_sessions: int = DEFAULT_SHARD_SESSIONS,
    chunk_segments: int = CHUNK_SEGMENTS,
    cache_topomaps: bool = True,
    split_fractions: Sequence[float] = SPLIT_FRACTIONS,
    scheduler: str | None = None,
    n_workers: int | None = None,
    progress: Progress | None = None,
    force: bool = False,
) -> BuildReport:
    """Build (or resume building) a corpus in ``out_dir``.

    Parameters
    ----------
    sources : sequence of (source, root, options)
        ``source`` is a registered name (``corpus.sources.SOURCES``) or an adapter module; ``root`` its
        data folder (None for generated sources); ``options`` keyword arguments of its ``list_items``.
    out_dir : path
        Empty, absent, or a partial/complete build with the same parameters (resumed).
    shard_sessions : int
        Sessions per shard: the unit of work, of atomic writing and of resuming.
    chunk_segments : int
        Segments per Zarr chunk (the unit of compression and of reading).
    cache_topomaps : bool
        Store band-power topomaps (float16) with the segments rather than computing them when read.
    split_fractions : (train, val, test)
    scheduler : None, ``"threads"``, ``"synchronous"`` or ``"tcp://host:port"``
        See the module docstring.
    n_workers : int, optional
        Workers of the local cluster (default: the CPUs this process may use).
    progress : callable(done_shards, total_shards), optional
        Called after each shard (reused shards count at once).
    force : bool
        Replace a corpus of other parameters (or other files) in ``out_dir``.

    Raises
    ------
    CorpusError
        ``out_dir`` holds something else; or shards failed (the completed ones are kept: fix and rerun).
    """
    started = time.time()
    if shard_sessions < 1 or chunk_segments < 1:
        raise ValueError("shard_sessions and chunk_segments must be >= 1")
    split_of("-", "-", split_fractions)  # validates the fractions before any work
    out = Path(out_dir)
    params = build_parameters(sources, shard_sessions=shard_sessions, chunk_segments=chunk_segments,
                              cache_topomaps=cache_topomaps, split_fractions=split_fractions)  # fmt: skip
    items = list_sessions(params)  # first: a bad root must fail before anything is written
    resuming = prepare_out_dir(out, params, force=force)
    groups = [items[i : i + shard_sessions] for i in range(0, len(items), shard_sessions)]
    _clean_shards_dir(out, len(groups))
    todo = []
    for index, group in enumerate(groups):
        path = shard_path(out, index)
        if is_complete(path) and shard_matches(path, group):
            continue
        if path.exists():  # complete but for other items (the source's files changed): redo it
            logger.warning("shard %d holds other sessions than the listing now gives; rebuilding it", index)
            shutil.rmtree(path)
        todo.append((index, group))
    reused = len(groups) - len(todo)
    logger.info("%d sessions in %d shards: %d on disk%s, %d to build", len(items), len(groups), reused,
                " (resuming)" if resuming else "", len(todo))  # fmt: skip
    if progress:
        progress(reused, len(groups))
    adapters = {entry["name"]: entry["adapter"] for entry in params["sources"]}
    failures = _run_shards(todo, (str(out), adapters, params), scheduler, n_workers, progress, reused, len(groups))
    _clean_shards_dir(out, len(groups))  # partial directories of killed workers
    if failures:
        raise CorpusError(f"{out}: {len(failures)} of {len(todo)} shards failed (completed shards are kept; fix the "
                          f"cause and rerun to resume): {failures[0]}")  # fmt: skip
    infos = [read_shard_info(shard_path(out, i)) for i in range(len(groups))]
    table = concat_tables(read_table(shard_path(out, i) / ROWS_NAME) for i in range(len(groups)))
    write_table(table, out / MANIFEST_NAME)
    digest = table_digest(table)
    skipped = [s for info in infos for s in info["skipped"]]
    seconds = time.time() - started
    write_card(out, table, params, infos, manifest_sha256=digest, started=started, seconds=seconds,
               shards_built=len(todo))  # fmt: skip
    return BuildReport(out_dir=out, n_shards=len(groups), shards_built=len(todo), shards_reused=reused,
                       sessions=sum(i["sessions"] for i in infos), segments=sum(i["segments"] for i in infos),
                       skipped=skipped, manifest_sha256=digest, seconds=seconds)  # fmt: skip


def _clean_shards_dir(out: Path, n_shards: int) -> None:
    """Remove partial shard directories and complete shards beyond ``n_shards`` (from an older listing).

    Not safe against a second build running in the same directory at the same time (unsupported).
    """
    for path in sorted((out / "shards").iterdir()):
        if path.name.startswith(".") and ".partial-" in path.name:
            shutil.rmtree(path, ignore_errors=True)
        elif path.name.endswith(".zarr") and path.name[:-5].isdigit() and int(path.name[:-5]) >= n_shards:
            logger.warning("removing %s: beyond the %d shards of this build", path.name, n_shards)
            shutil.rmtree(path, ignore_errors=True)
