"""Check a finished corpus end to end, and summarise one.

:func:`verify_corpus` trusts nothing but the card: every shard the card lists is there and complete,
its ``shard.json`` has the sha256 the card recorded and every file the sha256 ``shard.json`` recorded;
the manifest's content is what the card says and what the shards' own rows give; the counts agree; no
patient is in two splits (and each is in the split its hash gives); every chunk of every array decodes
(through ``zarr`` itself, not the datasets' fast path) and the manifest's rows cover the arrays exactly;
each segment's extra derivations fill exactly the ``extra_mask`` columns its ``extra_channels`` name. A
shard without ``extra_*`` arrays is accepted as one of zero width (none of its rows may name extras).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import zarr

from neuronarrator.corpus.card import CARD_JSON, counts
from neuronarrator.corpus.labels import split_of
from neuronarrator.corpus.manifest import MANIFEST_NAME, concat_tables, file_digest, read_table, table_digest
from neuronarrator.corpus.store import (
    ARRAYS,
    EXTRA_ARRAYS,
    FORMAT,
    ROWS_NAME,
    SHARD_JSON,
    is_complete,
    read_shard_info,
    shard_name,
    shard_path,
)
from neuronarrator.io.errors import CorpusError


def load_card(corpus_dir: str | Path) -> dict[str, Any]:
    """The card of a finished corpus.

    Raises
    ------
    CorpusError
        No card: not a corpus, or a build that has not finished.
    """
    path = Path(corpus_dir) / CARD_JSON
    if not path.is_file():
        raise CorpusError(f"{corpus_dir}: no {CARD_JSON}; not a finished corpus (rerun `corpus build` to finish it)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise CorpusError(f"{path}: unreadable card: {error}") from None


def verify_corpus(corpus_dir: str | Path) -> list[str]:
    """Every problem found, one line each (empty: the corpus is sound).

    Raises
    ------
    CorpusError
        No readable card (nothing to verify against).
    """
    out = Path(corpus_dir)
    card = load_card(out)
    if card.get("format") != FORMAT:
        return [f"format {card.get('format')!r}; this neuronarrator reads {FORMAT!r} (rebuild the corpus)"]
    problems: list[str] = []
    n_shards = len(card["shards"])
    good = []
    for index in range(n_shards):
        problems += _check_shard_files(out, index, card["shards"].get(shard_name(index)))
        if is_complete(shard_path(out, index)):
            good.append(index)
    for path in sorted((out / "shards").glob("*.zarr")):
        if path.name[:-5].isdigit() and int(path.name[:-5]) >= n_shards:
            problems.append(f"shards/{path.name}: a shard the card does not list")
    manifest_path = out / MANIFEST_NAME
    if not manifest_path.is_file():
        return [*problems, f"{MANIFEST_NAME}: missing"]
    try:
        table = read_table(manifest_path)
    except (OSError, pa.ArrowException) as error:
        return [*problems, f"{MANIFEST_NAME}: unreadable: {error}"]
    if table_digest(table) != card["manifest"]["sha256"]:
        problems.append(f"{MANIFEST_NAME}: content sha256 differs from the card's")
    if len(good) == n_shards:
        try:
            from_shards = concat_tables(read_table(shard_path(out, i) / ROWS_NAME) for i in good)
            if table_digest(from_shards) != table_digest(table):
                problems.append(f"{MANIFEST_NAME}: differs from the rows the shards hold")
        except (OSError, pa.ArrowException) as error:
            problems.append(f"shard rows unreadable: {error}")
    if counts(table) != card["counts"]:
        problems.append(f"counts: the card says {card['counts']['total']}, the manifest has {counts(table)['total']}")
    problems += _check_splits(table, card["parameters"]["split_fractions"])
    for index in good:
        problems += _check_arrays(out, index, table)
    return problems


def _check_shard_files(out: Path, index: int, recorded: str | None) -> list[str]:
    name = f"shards/{shard_name(index)}"
    path = shard_path(out, index)
    if not path.is_dir():
        return [f"{name}: missing"]
    if not is_complete(path):
        return [f"{name}: incomplete (no {SHARD_JSON})"]
    problems = []
    if file_digest(path / SHARD_JSON) != recorded:
        problems.append(f"{name}/{SHARD_JSON}: sha256 differs from the card's")
    try:
        files = read_shard_info(path)["files"]
    except (ValueError, KeyError) as error:
        return [*problems, f"{name}/{SHARD_JSON}: unreadable: {error}"]
    on_disk = {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()} - {SHARD_JSON}
    for rel in sorted(on_disk - set(files)):
        problems.append(f"{name}/{rel}: a file shard.json does not list")
    for rel, digest in sorted(files.items()):
        if rel not in on_disk:
            problems.append(f"{name}/{rel}: missing")
        elif file_digest(path / rel) != digest:
            problems.append(f"{name}/{rel}: sha256 differs from shard.json's (corrupted)")
    return problems


def _check_splits(table: pa.Table, fractions: list[float]) -> list[str]:
    splits: dict[tuple[str, str], set[str]] = defaultdict(set)
    for source, patient, split in zip(*(table.column(c).to_pylist() for c in ("source", "patient", "split")), strict=True):
        splits[(source, patient)].add(split)
    problems = []
    for (source, patient), seen in sorted(splits.items()):
        if len(seen) > 1:
            problems.append(f"patient {source}:{patient}: in {len(seen)} splits ({', '.join(sorted(seen))})")
        elif (expected := split_of(source, patient, fractions)) not in seen:
            problems.append(f"patient {source}:{patient}: in {seen.pop()}, but its hash gives {expected}")
    return problems


def _check_arrays(out: Path, index: int, table: pa.Table) -> list[str]:
    name = f"shards/{shard_name(index)}"
    try:
        group = zarr.open_group(shard_path(out, index), mode="r")
        arrays = {key: group[key] for key in ARRAYS if key in group}
    except Exception as error:  # noqa: BLE001 - any failure to open is a finding, not a crash
        return [f"{name}: cannot open: {type(error).__name__}: {error}"]
    if not {"segments", "scale_uv", "channel_mask"} <= set(arrays):
        return [f"{name}: arrays missing (has {sorted(arrays)})"]
    extra = [key for key in EXTRA_ARRAYS if key in arrays]
    if extra and len(extra) < len(EXTRA_ARRAYS):
        return [f"{name}: has {extra} but not all of {list(EXTRA_ARRAYS)}"]
    problems = []
    n_rows = arrays["segments"].shape[0]
    for key, array in arrays.items():
        if array.shape[0] != n_rows:
            problems.append(f"{name}/{key}: {array.shape[0]} rows, segments has {n_rows}")
        step = array.chunks[0]
        for start in range(0, array.shape[0], step):
            try:
                block = array[start : start + step]
            except Exception as error:  # noqa: BLE001 - a chunk that does not decode is what we look for
                problems.append(f"{name}/{key}: rows {start}-{start + step} unreadable: {type(error).__name__}: {error}")
                continue
            if key in ("scale_uv", "extra_scale_uv") and not (np.isfinite(block).all() and (block >= 0).all()):
                problems.append(f"{name}/{key}: rows {start}-{start + step} hold negative or non-finite scales")
    mine = table.filter(pc.equal(table.column("shard"), index))
    kind = np.array(mine.column("kind").to_pylist())
    starts = np.asarray(mine.column("row_start").to_numpy())
    if not np.array_equal(np.sort(starts[kind == "segment"]), np.arange(n_rows)):
        problems.append(f"{name}: the manifest's segment rows do not cover rows 0-{n_rows} exactly once")
    stops = np.asarray(mine.column("row_stop").to_numpy())
    if (stops[kind == "session"] > n_rows).any():
        problems.append(f"{name}: a session's rows run past the shard's {n_rows} rows")
    problems += _check_extras(name, arrays, mine.filter(pc.equal(mine.column("kind"), "segment")), n_rows)
    return problems


def _check_extras(name: str, arrays: dict[str, Any], segments: pa.Table, n_rows: int) -> list[str]:
    """Each segment row's ``extra_channels`` are the first ``extra_mask`` columns of its row, and only they."""
    widths = {key: arrays[key].shape[1] for key in EXTRA_ARRAYS if key in arrays}
    if len(set(widths.values())) > 1:
        return [f"{name}: extra arrays of different widths {widths}"]
    mask = arrays["extra_mask"][:] if widths else np.zeros((n_rows, 0), bool)
    rows = segments.column("row_start").to_pylist()
    names = segments.column("extra_channels").to_pylist()
    for row, channels in zip(rows, names, strict=True):
        n = len(channels or [])
        if 0 <= row < n_rows and (n > mask.shape[1] or mask[row, :n].sum() != n or mask[row, n:].any()):
            return [f"{name}: row {row}: extra_mask {mask[row].astype(int).tolist()} does not match its "
                    f"extra_channels {channels}"]  # fmt: skip
    return []
