"""The manifest: one row per segment and one per session, as Parquet, deterministic to the byte.

Every shard keeps its own rows (``rows.parquet`` inside the shard directory), so the manifest is a pure
function of the complete shards: concatenated in shard order, sorted, written with a fixed schema and
no timestamps. Two builds of the same sources with the same parameters give the same
:func:`table_digest` however they were scheduled, interrupted or resumed (timestamps live in the card).

Columns
-------
kind : ``"session"`` or ``"segment"``
source, key : the adapter's name and the session's key (unique within the source)
patient : pseudonymous patient id; ``split`` (train/val/test) is a hash of (source, patient)
session_id : ``"source:key"``, unique across the corpus
segment : index of the segment in its session (-1 on session rows)
start_s, end_s : the segment in seconds from the session's start (session rows: 0 to the end of the
    last whole segment; the tail shorter than one segment is not stored)
shard, row_start, row_stop : where the signal is: rows ``[row_start, row_stop)`` of the shard's arrays
montage : ``referential`` (19 channels) or ``bipolar`` (18 derivations in rows 0-17, row 18 masked)
extra_channels : names of the session's extra derivations (bipolar-only files: those outside the double
    banana, e.g. ``["Fpz-Cz", "Pz-Oz"]``; an ECG lead, ``"ECG"``), in the order of the shard's ``extra_*``
    columns; ``[]`` for none
findings : ``Findings.to_dict()`` as JSON; on segment rows clipped to the segment, times from its start
codes : sorted finding codes; ``session_level_codes``: those carried without evidence (segment rows)
labels_complete : the session's findings are a complete statement of the record (a report, the phantom)
    rather than some labelled events (``SessionData.labels_complete``); same on its segment rows
state : the dominant state (segment rows: of the segment), null where the labels do not give it
    (``SessionData.knows_state`` False: seizure times, an unannotated EDF); the findings then have an empty
    ``state_timeline``
impression, narrative, narrative_origin : ``narrative_origin`` is ``"report"``, ``"rendered"`` or
    ``"none"`` (``narrative`` then ``""``). Session rows: the source's narrative; ``impression`` null when
    the source does not know it. Segment rows: a narrative rendered from their own findings when the
    labels are complete (or the source rendered the session's anyway), else none; ``impression`` from the
    carried findings, null (unknown) for incomplete labels unless a carried finding is abnormal or the
    whole record is known to be normal (see :mod:`.shard`)
age_years, sex, icd10, atc : EHR (null / empty when unknown)
meta : JSON provenance from the adapter (session rows; ``"{}"`` on segment rows)
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from neuronarrator.io.atomic import atomic_output

MANIFEST_NAME = "manifest.parquet"

SCHEMA = pa.schema([
    ("kind", pa.string()),
    ("source", pa.string()),
    ("key", pa.string()),
    ("patient", pa.string()),
    ("session_id", pa.string()),
    ("split", pa.string()),
    ("segment", pa.int32()),
    ("start_s", pa.float64()),
    ("end_s", pa.float64()),
    ("shard", pa.int32()),
    ("row_start", pa.int32()),
    ("row_stop", pa.int32()),
    ("montage", pa.string()),
    ("extra_channels", pa.list_(pa.string())),
    ("findings", pa.string()),
    ("codes", pa.list_(pa.string())),
    ("session_level_codes", pa.list_(pa.string())),
    ("state", pa.string()),
    ("impression", pa.string()),
    ("narrative", pa.string()),
    ("narrative_origin", pa.string()),
    ("labels_complete", pa.bool_()),
    ("age_years", pa.float64()),
    ("sex", pa.string()),
    ("icd10", pa.list_(pa.string())),
    ("atc", pa.list_(pa.string())),
    ("meta", pa.string()),
])  # fmt: skip

#: Row order: shard order (= the sources' listing order), then row; a session's row (segment -1, same
#: ``row_start`` as its first segment) comes right before its segments.
SORT_COLUMNS = ("shard", "row_start", "segment", "session_id")


def sort_key(row: dict[str, Any]) -> tuple:
    """The :data:`SORT_COLUMNS` of a row."""
    return tuple(row[c] for c in SORT_COLUMNS)


def rows_to_table(rows: Sequence[dict[str, Any]]) -> pa.Table:
    """Rows (dicts with the :data:`SCHEMA` columns) as a table, in :func:`sort_key` order."""
    ordered = sorted(rows, key=sort_key)
    return pa.Table.from_pylist(ordered, schema=SCHEMA)


def write_table(table: pa.Table, path: str | Path, *, force: bool = True) -> None:
    """Write a manifest (or a shard's rows) atomically; fixed options so the bytes are reproducible."""
    with atomic_output(path, force=force) as tmp:
        # Statistics off: they add nothing a reader of this file needs and vary with row-group cuts.
        pq.write_table(table, tmp, compression="zstd", write_statistics=False, row_group_size=65536)
        os.chmod(tmp, _FILE_MODE)


# atomic_output's temporary files are private (0600); a corpus is meant to be read by others.
_FILE_MODE = 0o644


def write_text(path: str | Path, text: str) -> None:
    """Write a small text file (JSON, Markdown) atomically, readable by all like the Zarr files."""
    with atomic_output(path, force=True) as tmp:
        tmp.write_text(text, encoding="utf-8")
        os.chmod(tmp, _FILE_MODE)


def read_table(path: str | Path, *, columns: Sequence[str] | None = None, filters: Any = None) -> pa.Table:
    """Read a manifest (all columns, or ``columns``; ``filters`` as in ``pyarrow.parquet.read_table``)."""
    return pq.read_table(path, columns=list(columns) if columns else None, filters=filters, schema=SCHEMA)


def concat_tables(tables: Iterable[pa.Table]) -> pa.Table:
    """Shards' rows into one manifest table, sorted (each shard is sorted; shards arrive in order)."""
    tables = list(tables)
    if not tables:
        return SCHEMA.empty_table()
    table = pa.concat_tables(tables)
    return table.sort_by([(c, "ascending") for c in SORT_COLUMNS]).combine_chunks()


def table_digest(table: pa.Table) -> str:
    """sha256 of the table's content: each row as canonical JSON, in order (independent of Parquet bytes)."""
    h = hashlib.sha256()
    h.update(json.dumps(table.schema.names).encode("utf-8"))
    for batch in table.to_batches(max_chunksize=4096):
        for row in batch.to_pylist():
            h.update(json.dumps(row, sort_keys=True, ensure_ascii=False, allow_nan=True).encode("utf-8") + b"\n")
    return h.hexdigest()


def file_digest(path: str | Path, *, block_bytes: int = 1 << 20) -> str:
    """sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(block_bytes):
            h.update(chunk)
    return h.hexdigest()
