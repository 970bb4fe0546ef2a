"""The corpus and what the labels cover (``labels_complete``), and extra bipolar derivations on disk."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch
import zarr
from torch.utils.data import DataLoader

from neuronarrator.clinical.findings import Findings
from neuronarrator.corpus import store
from neuronarrator.corpus.build import build_corpus
from neuronarrator.corpus.card import CARD_JSON
from neuronarrator.corpus.datasets import SegmentDataset, SessionDataset, collate_sessions
from neuronarrator.corpus.manifest import file_digest, read_table
from neuronarrator.corpus.shard import ShardTaskError, segments_of
from neuronarrator.corpus.sources.base import SessionData, SessionItem
from neuronarrator.corpus.store import EXTRA_ARRAYS, SHARD_JSON, ChunkedArray, ShardReader, shard_path
from neuronarrator.corpus.verify import _check_extras, verify_corpus


def build(fake_source, out: Path, shard_sessions: int = 3, chunk_segments: int = 8, **listing) -> object:
    return build_corpus([(fake_source, None, listing)], out, scheduler="synchronous", shard_sessions=shard_sessions,
                        chunk_segments=chunk_segments, split_fractions=(1.0, 0.0, 0.0))  # fmt: skip


def _rows(out: Path) -> list[dict]:
    return read_table(out / "manifest.parquet").to_pylist()


def _session(fake_source, key: str, **listing) -> SessionData:
    return fake_source.load(next(i for i in fake_source.list_items(None, **listing) if i.key == key))


# ----------------------------------------------------------------------------------- labels_complete


def test_partial_labels_give_no_narrative_and_no_invented_impression(fake_source, tmp_path: Path) -> None:
    build(fake_source, tmp_path / "c", sessions=3, partial=(1,))
    rows = _rows(tmp_path / "c")
    full = [r for r in rows if r["key"] == "s000"]
    partial = [r for r in rows if r["key"] == "s001"]
    assert {r["labels_complete"] for r in full} == {True} and {r["labels_complete"] for r in partial} == {False}
    # complete labels: unchanged (the report on the session row, rendered text per segment)
    assert full[0]["narrative_origin"] == "report" and full[0]["impression"] == "abnormal"
    assert all(r["narrative_origin"] == "rendered" and "IMPRESSION" in r["narrative"] for r in full[1:])
    session, *segments = partial
    assert (session["narrative"], session["narrative_origin"]) == ("", "none")
    assert session["impression"] == "abnormal"  # it holds an evidenced focal slowing: that much is known
    assert [(r["narrative"], r["narrative_origin"]) for r in segments] == [("", "none")] * 3
    # 0-10 s holds only a blink: the impression is unknown, not "normal"; 10-30 s carry the slowing
    assert [r["impression"] for r in segments] == [None, "abnormal", "abnormal"]
    assert [r["codes"] for r in segments] == [["eye_blink_artifact"], ["focal_slowing"], ["focal_slowing"]]


def test_card_counts_prevalence_over_complete_labels_only(fake_source, tmp_path: Path) -> None:
    build(fake_source, tmp_path / "c", sessions=4, partial=(1, 2, 3))
    card = json.loads((tmp_path / "c" / CARD_JSON).read_text())
    assert card["labelled"] == {"sessions": 1, "segments": 3}
    # excess beta is in s000 alone, over its whole length: 100 %, not the 25 % of all sessions
    assert card["prevalence"]["sessions"]["excess_beta"] == 1.0
    assert card["prevalence"]["segments"]["excess_beta"] == 1.0
    assert card["narrative_origins"] == {"sessions": {"none": 3, "report": 1},
                                         "segments": {"none": 9, "rendered": 3}}  # fmt: skip
    assert card["impressions"] == {"abnormal": 4}
    markdown = (tmp_path / "c/CARD.md").read_text()
    assert "Over the 1 sessions and 3 segments with complete labels" in markdown and "none 9" in markdown
    assert verify_corpus(tmp_path / "c") == []


def test_datasets_expose_labels_complete_and_empty_narratives(fake_source, tmp_path: Path) -> None:
    build(fake_source, tmp_path / "c", sessions=2, partial=(1,))
    ds = SegmentDataset(tmp_path / "c", "train", fields=("findings", "narrative"))
    items = [ds[i] for i in range(len(ds))]
    assert [i["labels_complete"] for i in items] == [True] * 3 + [False] * 3
    assert all("IMPRESSION" in i["narrative"] for i in items[:3]) and [i["narrative"] for i in items[3:]] == [""] * 3
    batch = next(iter(DataLoader(ds, batch_size=6)))
    assert batch["labels_complete"].dtype == torch.bool and batch["labels_complete"].tolist() == [True] * 3 + [False] * 3
    sessions = SessionDataset(tmp_path / "c", "train")
    first, second = sessions[0], sessions[1]
    assert (first["labels_complete"], first["report"], first["narrative_origin"]) == (True, "Report of s000.", "report")
    assert (second["labels_complete"], second["report"], second["narrative_origin"]) == (False, "", "none")
    assert collate_sessions([first, second])["labels_complete"].tolist() == [True, False]


def test_render_always_is_honoured_for_the_segments_too(tmp_path: Path) -> None:
    from neuronarrator.corpus.sources import edf
    from neuronarrator.io.channels import CANONICAL_19
    from neuronarrator.io.write import write_edf

    rng = np.random.default_rng(0)
    labels = [f"EEG {c.upper()}-REF" for c in CANONICAL_19]
    write_edf(tmp_path / "data/quiet.edf", 20 * rng.standard_normal((19, 4000)), 200.0, labels)
    write_edf(tmp_path / "data/spiky.edf", 20 * rng.standard_normal((19, 4000)), 200.0, labels,
              events=[(12.0, 0.0, "spike F8")])  # fmt: skip
    assert not edf.load(next(edf.list_items(tmp_path / "data"))).labels_complete
    build_corpus([("edf", tmp_path / "data", {})], tmp_path / "c", scheduler="synchronous")
    rows = {(r["key"], r["segment"]): r for r in _rows(tmp_path / "c")}
    assert {(r["narrative"], r["narrative_origin"]) for r in rows.values()} == {("", "none")}
    assert rows[("quiet.edf", -1)]["impression"] is None  # unannotated: not a normal EEG
    assert [rows[("quiet.edf", s)]["impression"] for s in (0, 1)] == [None, None]
    assert rows[("spiky.edf", -1)]["impression"] == "abnormal"
    assert [rows[("spiky.edf", s)]["impression"] for s in (0, 1)] == [None, "abnormal"]
    build_corpus([("edf", tmp_path / "data", {"render": "always"})], tmp_path / "r", scheduler="synchronous")
    rendered = _rows(tmp_path / "r")
    assert {r["narrative_origin"] for r in rendered} == {"rendered"} and all(r["narrative"] for r in rendered)
    assert {r["labels_complete"] for r in rendered} == {False}  # rendering does not make labels complete


def test_adapters_breaking_the_contract_fail_the_shard(fake_source) -> None:
    item = SessionItem("fake", "x", "p")
    good = _session(fake_source, "s000", sessions=1)
    with pytest.raises(ShardTaskError, match="narrative_origin 'clinician'"):
        segments_of(SessionData(**{**good.__dict__, "narrative_origin": "clinician"}), item)
    with pytest.raises(ShardTaskError, match="a narrative with narrative_origin 'none'"):
        segments_of(SessionData(**{**good.__dict__, "narrative_origin": "none"}), item)
    with pytest.raises(ShardTaskError, match=r"extra_uv of shape \(2, 6000\) for 1 extra_channels"):
        segments_of(SessionData(**{**good.__dict__, "extra_uv": np.zeros((2, 6000), np.float32),
                                   "extra_channels": ("Fpz-Cz",)}), item)  # fmt: skip
    assert SessionData(**{**good.__dict__, "labels_complete": False}).knows_impression is False
    assert SessionData(**{**good.__dict__, "labels_complete": False, "impression_known": True}).knows_impression


# ------------------------------------------------------------------------------------ extra derivations


def test_extra_derivations_round_trip_with_a_growing_width(fake_source, tmp_path: Path, monkeypatch) -> None:
    # shard 0: s000 none, s001 2 extras, s002 3 extras; shard 1: s003 (1 extra), s004 none. Each session is
    # flushed before the next comes (one-segment chunks, a flush per chunk): the width grows on disk.
    monkeypatch.setattr(store, "_FLUSH_CHUNKS", 1)
    listing = {"sessions": 5, "duration_s": 30.0, "bipolar": (1, 2, 3), "extras": (1, 2, 3)}
    build(fake_source, tmp_path / "c", chunk_segments=1, **listing)
    out = tmp_path / "c"
    rows = _rows(out)
    by_key = {r["key"]: r for r in rows if r["kind"] == "session"}
    assert [by_key[k]["extra_channels"] for k in ("s000", "s001", "s002", "s003", "s004")] == [
        [], ["Fpz-Cz", "Pz-Oz"], ["Fpz-Cz", "Pz-Oz", "T7-FT9"], ["Fpz-Cz"], []]  # fmt: skip
    group = zarr.open_group(shard_path(out, 0), mode="r")
    assert group["extra_segments"].shape == (9, 3, 2000) and group["extra_segments"].dtype == np.int16
    assert group["extra_scale_uv"].shape == (9, 3) and group["extra_mask"].dtype == bool
    np.testing.assert_array_equal(group["extra_mask"][:].sum(axis=1), [0] * 3 + [2] * 3 + [3] * 3)
    for key in ("s001", "s002", "s003"):
        data, session = _session(fake_source, key, **listing), by_key[key]
        reader = ShardReader(shard_path(out, session["shard"]))
        n = len(data.extra_channels)
        for segment in range(3):
            stored, mask = reader.extra_uv(session["row_start"] + segment)
            want = data.extra_uv[:, segment * 2000 : (segment + 1) * 2000]
            peak = np.abs(want).max(axis=-1, keepdims=True)
            assert mask[:n].all() and not mask[n:].any() and (stored[n:] == 0).all()
            assert (np.abs(stored[:n] - want) <= peak * (1 / 65534 + 1e-6)).all()
    for name in EXTRA_ARRAYS:  # the fast chunk reader assembles the per-column chunks as zarr does
        fast = ChunkedArray(shard_path(out, 0) / name)
        assert fast.fast and fast.chunk_shape[1] == 1
        np.testing.assert_array_equal(fast.rows(0, 9), group[name][:])
    assert verify_corpus(out) == []


def test_shards_without_extras_hold_zero_width_arrays(fake_source, tmp_path: Path) -> None:
    build(fake_source, tmp_path / "c", sessions=2)
    path = shard_path(tmp_path / "c", 0)
    group = zarr.open_group(path, mode="r")
    assert group["extra_segments"].shape == (6, 0, 2000) and group["extra_mask"].shape == (6, 0)
    assert not (path / "extra_segments/c").exists()  # no chunk files
    assert ShardReader(path).extra_uv(0)[0].shape == (0, 2000)
    ds = SegmentDataset(tmp_path / "c", "train", fields=("extra_waveform",))
    assert ds[0]["extra_waveform"].shape == (0, 2000) and ds[0]["extra_channels"] == ()


def test_verify_accepts_shards_that_omit_the_extra_arrays(fake_source, tmp_path: Path) -> None:
    build(fake_source, tmp_path / "c", sessions=2)
    out, path = tmp_path / "c", shard_path(tmp_path / "c", 0)
    for name in EXTRA_ARRAYS:  # as a writer that leaves them out would: shard.json and card agree
        shutil.rmtree(path / name)
    info = json.loads((path / SHARD_JSON).read_text())
    info["files"] = {k: v for k, v in info["files"].items() if k.split("/")[0] not in EXTRA_ARRAYS}
    (path / SHARD_JSON).write_text(json.dumps(info))
    card = json.loads((out / CARD_JSON).read_text())
    card["shards"]["00000.zarr"] = file_digest(path / SHARD_JSON)
    (out / CARD_JSON).write_text(json.dumps(card))
    assert verify_corpus(out) == []
    reader = ShardReader(path)
    assert reader.n_extra == 0 and reader.extra_uv(3)[0].shape == (0, 2000)


def test_verify_checks_extra_channels_against_the_mask() -> None:
    segments = pa.table({"row_start": [0, 1], "extra_channels": [["Fpz-Cz"], []]})
    mask = zarr.create_array(store={}, shape=(2, 1), chunks=(2, 1), dtype=bool)
    mask[:] = np.array([[True], [False]])
    assert _check_extras("s", {"extra_mask": mask}, segments, 2) == []
    assert "row 0" in _check_extras("s", {}, segments, 2)[0]  # no arrays: a row may not name extras
    mask[:] = np.array([[True], [True]])
    assert "row 1" in _check_extras("s", {"extra_mask": mask}, segments, 2)[0]


def test_segment_dataset_pads_extras_to_the_widest_and_batches(fake_source, tmp_path: Path) -> None:
    build(fake_source, tmp_path / "c", sessions=3, bipolar=(1, 2), extras=(1, 2))
    ds = SegmentDataset(tmp_path / "c", "train", fields=("extra_waveform",))
    assert ds.n_extra == 3
    assert ds[0]["extra_channels"] == ("", "", "") and not ds[0]["extra_mask"].any()
    assert (ds[0]["extra_waveform"] == 0).all()
    assert ds[3]["extra_channels"] == ("Fpz-Cz", "Pz-Oz", "") and ds[3]["extra_mask"].tolist() == [True, True, False]
    data = _session(fake_source, "s001", sessions=3, bipolar=(1, 2), extras=(1, 2))
    want = data.extra_uv[:, 2000:4000]
    got = ds[4]["extra_waveform"].numpy()
    assert np.abs(got[:2] - want).max() <= np.abs(want).max() / 30000 and (got[2] == 0).all()
    batch = next(iter(DataLoader(ds, batch_size=9)))
    assert batch["extra_waveform"].shape == (9, 3, 2000) and batch["extra_mask"].shape == (9, 3)


def test_findings_round_trip_is_unchanged_by_partial_labels(fake_source, tmp_path: Path) -> None:
    build(fake_source, tmp_path / "c", sessions=2, partial=(1,))
    session = next(r for r in _rows(tmp_path / "c") if r["kind"] == "session" and r["key"] == "s001")
    data = _session(fake_source, "s001", sessions=2, partial=(1,))
    # the findings are kept; the state timeline is not, since partial labels do not give the state
    assert not data.knows_state and session["state"] is None
    expected = {**data.findings.to_dict(), "state_timeline": []}
    assert Findings.from_dict(json.loads(session["findings"])).to_dict() == expected
