"""One shard's work, as a worker does it: load its sessions through their adapters, cut them into 10-s
segments, label and narrate each segment, write the shard (atomically, :class:`~.store.ShardWriter`).

Narratives and impressions follow what the labels cover (``SessionData.labels_complete``). A session with
complete labels gives each segment a narrative rendered from the findings it carries (origin
``"rendered"``) and the impression they imply. A session with partial labels gives its segments no
narrative (``""``, origin ``"none"``: a rendered "normal background" would be a claim nobody made) unless
its adapter rendered one for the session anyway (``render="always"``, origin ``"rendered"``), and an
impression of ``"abnormal"`` where a carried finding is abnormal, ``"normal"`` where the whole record is
known to be normal (a TUAB ``normal`` folder), else null (unknown). The session row keeps
the adapter's narrative, and its impression when the adapter knows it (``knows_impression``) or one of its
findings is abnormal, else null. A state the labels do not give (``SessionData.knows_state`` False: seizure
times, an unannotated EDF) is null on the session and segment rows, and the findings keep no state
timeline (their ``state`` field is the schema's default then, not a label).

A session whose adapter raises an :class:`~neuronarrator.io.errors.InputError` (a bad file) is skipped
and recorded in the shard with its file and reason; any other exception is a bug in an adapter and
fails the shard, naming the session, so that a build never silently loses data for a reason nobody saw.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neuronarrator.clinical.findings import Findings
from neuronarrator.clinical.render import render_report
from neuronarrator.corpus.labels import derived_seed, segment_findings, split_of
from neuronarrator.corpus.manifest import rows_to_table
from neuronarrator.corpus.sources.base import NARRATIVE_ORIGINS, SEGMENT_S, SessionData, SessionItem
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


def _cut(data_uv: np.ndarray, n_segments: int) -> np.ndarray:
    used = data_uv[:, : n_segments * SEGMENT_SAMPLES]
    return used.reshape(data_uv.shape[0], n_segments, SEGMENT_SAMPLES).transpose(1, 0, 2)  # (n, C, T)


def _check_contract(data: SessionData, item: SessionItem, data_uv: np.ndarray, extra_uv: np.ndarray) -> None:
    """Raise :class:`ShardTaskError` (an adapter bug, not bad input) where ``data`` breaks the contract."""
    expected = N_CHANS if data.montage == "referential" else N_CHANS - 1
    problem = None
    if data.montage not in ("referential", "bipolar") or data_uv.ndim != 2 or data_uv.shape[0] != expected:
        problem = f"{data.montage!r} data of shape {data_uv.shape}; expected ({expected}, n_times)"
    elif extra_uv.ndim != 2 or extra_uv.shape[0] != len(data.extra_channels) or (
        extra_uv.shape[0] and extra_uv.shape[1] != data_uv.shape[1]
    ):
        problem = (f"extra_uv of shape {extra_uv.shape} for {len(data.extra_channels)} extra_channels; expected "
                   f"({len(data.extra_channels)}, {data_uv.shape[1]})")  # fmt: skip
    elif data.narrative_origin not in NARRATIVE_ORIGINS:
        problem = f"narrative_origin {data.narrative_origin!r}; expected one of {NARRATIVE_ORIGINS}"
    elif data.narrative_origin == "none" and data.narrative:
        problem = "a narrative with narrative_origin 'none'"
    if problem:
        raise ShardTaskError(f"{session_id(item)}: adapter returned {problem}")


def segments_of(data: SessionData, item: SessionItem) -> tuple[np.ndarray, np.ndarray]:
    """The session's whole 10-s segments, shape (n_segments, n_chans, 2000), and its extra derivations cut
    the same way, (n_segments, n_extra, 2000); float32 (views when they can be).

    Raises
    ------
    InputError
        No whole segment, or non-finite samples (the session is skipped, not the build).
    ShardTaskError
        The adapter broke the contract (shapes, narrative origin).
    """
    data_uv = np.asarray(data.data_uv, dtype=np.float32)
    extra_uv = np.asarray(data.extra_uv, dtype=np.float32)
    _check_contract(data, item, data_uv, extra_uv)
    where = data.meta.get("source_file") or item.key
    n_segments = data_uv.shape[1] // SEGMENT_SAMPLES
    if n_segments == 0:
        raise RecordingTooShortError(where, f"{data_uv.shape[1] / SEGMENT_SAMPLES * SEGMENT_S:.1f} s is shorter "
                                            f"than one {SEGMENT_S:g}-s segment")  # fmt: skip
    if not (np.isfinite(data_uv).all() and np.isfinite(extra_uv).all()):
        raise NonFiniteSignalError(where, "the harmonized signal holds NaN or infinite samples")
    if extra_uv.shape[0] == 0:
        return _cut(data_uv, n_segments), np.zeros((n_segments, 0, SEGMENT_SAMPLES), np.float32)
    return _cut(data_uv, n_segments), _cut(extra_uv, n_segments)


def session_rows(
    item: SessionItem, data: SessionData, *, split: str, shard: int, row_start: int, n_segments: int
) -> list[dict[str, Any]]:
    """Manifest rows of one session: its own row, then one per segment (see :mod:`.manifest`)."""
    ehr = data.ehr or {}
    age = ehr.get("age_years")
    common = {
        "source": item.source, "key": item.key, "patient": item.patient, "session_id": session_id(item),
        "split": split, "shard": shard, "montage": data.montage, "extra_channels": list(data.extra_channels),
        "labels_complete": bool(data.labels_complete), "age_years": None if age is None else float(age),
        "sex": ehr.get("sex"), "icd10": sorted(ehr.get("icd10") or []), "atc": sorted(ehr.get("atc") or []),
    }  # fmt: skip
    # segment narratives: rendered from complete labels, or where the adapter rendered the session's anyway
    render = data.labels_complete or data.narrative_origin == "rendered"
    record_abnormal = data.findings.impression == "abnormal" or _abnormal(data.findings)
    state_known = data.knows_state
    # an unknown state: no timeline (the segments' state would come from it), a null state column
    session_findings = data.findings if state_known else dataclasses.replace(data.findings, state_timeline=())
    rows = [{
        **common, "kind": "session", "segment": -1, "start_s": 0.0, "end_s": n_segments * SEGMENT_S,
        "row_start": row_start, "row_stop": row_start + n_segments,
        "findings": json.dumps(session_findings.to_dict(), sort_keys=True), "codes": sorted(data.findings.codes),
        "session_level_codes": sorted(f.code for f in data.findings.findings if not f.evidence),
        "state": data.findings.state if state_known else None, "narrative": data.narrative,
        "impression": data.findings.impression if data.knows_impression or _abnormal(data.findings) else None,
        "narrative_origin": data.narrative_origin, "meta": json.dumps(data.meta, sort_keys=True, default=str),
    }]  # fmt: skip
    for segment in range(n_segments):
        start_s = segment * SEGMENT_S
        findings, session_level = segment_findings(session_findings, start_s, start_s + SEGMENT_S)
        narrative = render_report(findings, rng=derived_seed(item.source, item.key, str(segment))).text if render else ""
        known = data.labels_complete or _abnormal(findings) or (data.knows_impression and not record_abnormal)
        impression = findings.impression if known else None
        rows.append({
            **common, "kind": "segment", "segment": segment, "start_s": start_s, "end_s": start_s + SEGMENT_S,
            "row_start": row_start + segment, "row_stop": row_start + segment + 1,
            "findings": json.dumps(findings.to_dict(), sort_keys=True), "codes": sorted(findings.codes),
            "session_level_codes": list(session_level), "state": findings.state if state_known else None,
            "impression": impression, "narrative": narrative, "narrative_origin": "rendered" if render else "none",
            "meta": "{}",
        })  # fmt: skip
    return rows


def _abnormal(findings: Findings) -> bool:
    return any(f.is_abnormal for f in findings.findings)


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
                segments, extra = segments_of(data, item)
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
            row_start, row_stop = writer.add_segments(segments, np.asarray(data.channel_mask, bool), data.montage,
                                                      extra)  # fmt: skip
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
