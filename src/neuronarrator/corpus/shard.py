"""One shard's work, as a worker does it: load its sessions through their adapters, cut them into 10-s
segments, label and narrate each segment, write the shard (atomically, :class:`~.store.ShardWriter`).

A session whose adapter raises an :class:`~neuronarrator.io.errors.InputError` (a bad file) is skipped
and recorded in the shard with its file and reason; any other exception is a bug in an adapter and
fails the shard, naming the session, so that a build never silently loses data for a reason nobody saw.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neuronarrator.clinical.render import render_report
from neuronarrator.corpus.labels import derived_seed, segment_findings, split_of
from neuronarrator.corpus.manifest import rows_to_table
from neuronarrator.corpus.sources.base import SEGMENT_S, SessionData, SessionItem
from neuronarrator.corpus.store import (
    N_CHANS,
    SEGMENT_SAMPLES,
    ShardWriter,
    is_complete,
    read_shard_info,
    shard_path,
)
from neuronarrator.io.errors import InputError, NonFiniteSignalError, RecordingTooShortError

logger = logging.getLogger(__name__)


class ShardTaskError(RuntimeError):
    """A session failed for a reason that is not bad input (an adapter bug); names the session."""


def session_id(item: SessionItem) -> str:
    return f"{item.source}:{item.key}"


def segments_of(data: SessionData, item: SessionItem) -> np.ndarray:
    """The session's whole 10-s segments, shape (n_segments, n_chans, 2000), float32 (a view when it can).

    Raises
    ------
    InputError
        No whole segment, or non-finite samples (the session is skipped, not the build).
    """
    data_uv = np.asarray(data.data_uv, dtype=np.float32)
    expected = N_CHANS if data.montage == "referential" else N_CHANS - 1
    if data.montage not in ("referential", "bipolar") or data_uv.ndim != 2 or data_uv.shape[0] != expected:
        raise ShardTaskError(f"{session_id(item)}: adapter returned {data.montage!r} data of shape "
                             f"{data_uv.shape}; expected ({expected}, n_times)")  # fmt: skip
    where = data.meta.get("source_file") or item.key
    n_segments = data_uv.shape[1] // SEGMENT_SAMPLES
    if n_segments == 0:
        raise RecordingTooShortError(where, f"{data_uv.shape[1] / SEGMENT_SAMPLES * SEGMENT_S:.1f} s is shorter "
                                            f"than one {SEGMENT_S:g}-s segment")  # fmt: skip
    if not np.isfinite(data_uv).all():
        raise NonFiniteSignalError(where, "the harmonized signal holds NaN or infinite samples")
    used = data_uv[:, : n_segments * SEGMENT_SAMPLES]
    return used.reshape(expected, n_segments, SEGMENT_SAMPLES).transpose(1, 0, 2)  # (n, C, T)


def session_rows(
    item: SessionItem, data: SessionData, *, split: str, shard: int, row_start: int, n_segments: int
) -> list[dict[str, Any]]:
    """Manifest rows of one session: its own row, then one per segment (see :mod:`.manifest`)."""
    ehr = data.ehr or {}
    age = ehr.get("age_years")
    common = {
        "source": item.source, "key": item.key, "patient": item.patient, "session_id": session_id(item),
        "split": split, "shard": shard, "montage": data.montage,
        "age_years": None if age is None else float(age), "sex": ehr.get("sex"),
        "icd10": sorted(ehr.get("icd10") or []), "atc": sorted(ehr.get("atc") or []),
    }  # fmt: skip
    rows = [{
        **common, "kind": "session", "segment": -1, "start_s": 0.0, "end_s": n_segments * SEGMENT_S,
        "row_start": row_start, "row_stop": row_start + n_segments,
        "findings": json.dumps(data.findings.to_dict(), sort_keys=True), "codes": sorted(data.findings.codes),
        "session_level_codes": sorted(f.code for f in data.findings.findings if not f.evidence),
        "state": data.findings.state, "impression": data.findings.impression, "narrative": data.narrative,
        "narrative_origin": data.narrative_origin, "meta": json.dumps(data.meta, sort_keys=True, default=str),
    }]  # fmt: skip
    for segment in range(n_segments):
        start_s = segment * SEGMENT_S
        findings, session_level = segment_findings(data.findings, start_s, start_s + SEGMENT_S)
        narrative = render_report(findings, rng=derived_seed(item.source, item.key, str(segment))).text
        rows.append({
            **common, "kind": "segment", "segment": segment, "start_s": start_s, "end_s": start_s + SEGMENT_S,
            "row_start": row_start + segment, "row_stop": row_start + segment + 1,
            "findings": json.dumps(findings.to_dict(), sort_keys=True), "codes": sorted(findings.codes),
            "session_level_codes": list(session_level), "state": findings.state,
            "impression": findings.impression, "narrative": narrative, "narrative_origin": "rendered",
            "meta": "{}",
        })  # fmt: skip
    return rows


def _adapter(path: str) -> Any:
    return importlib.import_module(path)


def build_shard(
    corpus_dir: str,
    index: int,
    items: Sequence[SessionItem],
    adapters: dict[str, str],
    params: dict[str, Any],
) -> dict[str, Any]:
    """Build shard ``index`` from ``items`` (the task a worker runs); returns its ``shard.json`` info.

    Parameters
    ----------
    corpus_dir : str
    index : int
    items : sequence of SessionItem
        The shard's sessions, in order.
    adapters : dict
        Source name -> importable module path of its adapter (workers import it themselves).
    params : dict
        Build parameters: ``chunk_segments``, ``cache_topomaps``, ``split_fractions``.
    """
    final = shard_path(corpus_dir, index)
    if is_complete(final):  # a duplicate run of a task that already committed
        return read_shard_info(final)
    writer = ShardWriter(corpus_dir, index, chunk_segments=int(params["chunk_segments"]),
                         cache_topomaps=bool(params["cache_topomaps"]))  # fmt: skip
    rows: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    try:
        for item in items:
            try:
                data = _adapter(adapters[item.source]).load(item)
                segments = segments_of(data, item)
            except InputError as error:
                logger.warning("skipping %s: %s", session_id(item), error)
                skipped.append({"source": item.source, "key": item.key, "file": str(error.path),
                                "reason": error.problem})  # fmt: skip
                continue
            except ShardTaskError:
                raise
            except Exception as error:
                raise ShardTaskError(f"{session_id(item)}: {type(error).__name__}: {error}") from error
            split = split_of(item.source, item.patient, params["split_fractions"])
            row_start, row_stop = writer.add_segments(segments, np.asarray(data.channel_mask, bool), data.montage)
            rows += session_rows(item, data, split=split, shard=index, row_start=row_start,
                                 n_segments=row_stop - row_start)  # fmt: skip
        info = {"items": [[item.source, item.key] for item in items], "skipped": skipped,
                "sessions": sum(r["kind"] == "session" for r in rows),
                "segments": sum(r["kind"] == "segment" for r in rows)}  # fmt: skip
        return writer.commit(rows_to_table(rows), info)
    except BaseException:
        writer.abort()
        raise


def shard_matches(path: Path, items: Sequence[SessionItem]) -> bool:
    """True when the complete shard at ``path`` holds exactly these items (same sources and keys, in order)."""
    try:
        return read_shard_info(path)["items"] == [[item.source, item.key] for item in items]
    except (OSError, ValueError, KeyError):
        return False
