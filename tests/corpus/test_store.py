"""The corpus on disk: layout, dtypes, quantisation, labels per segment, splits, round trips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import zarr

from neuronarrator.clinical.findings import CODES, Evidence, Finding, Findings, StateSpan
from neuronarrator.corpus.build import build_corpus
from neuronarrator.corpus.labels import finding_targets, segment_findings, split_of
from neuronarrator.corpus.manifest import SCHEMA, read_table
from neuronarrator.corpus.store import (
    ChunkedArray,
    ShardReader,
    dequantize,
    quantize,
    segment_topomaps,
    shard_path,
)
from neuronarrator.io.channels import CANONICAL_19
from neuronarrator.io.errors import CorpusError
from neuronarrator.signal.topomap import band_topomaps


def build(fake_source, out: Path, **options) -> object:
    listing = {k: options.pop(k) for k in list(options) if k not in ("shard_sessions", "cache_topomaps", "split_fractions")}
    return build_corpus([(fake_source, None, listing)], out, scheduler="synchronous",
                        shard_sessions=options.pop("shard_sessions", 2), **options)  # fmt: skip


# ------------------------------------------------------------------------------------------ quantisation


def test_quantisation_error_is_at_most_half_a_step_and_nothing_clips() -> None:
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((50, 19, 2000)) * rng.uniform(0.01, 5000, (50, 19, 1))).astype(np.float32)
    x[0, 0] = 0.0  # an all-zero row
    x[1, 1, 5] = 1e6  # one huge sample
    codes, scale_uv = quantize(x)
    assert codes.dtype == np.int16 and scale_uv.dtype == np.float32 and scale_uv.shape == (50, 19)
    assert np.abs(codes).max() <= 32767
    error = np.abs(dequantize(codes, scale_uv) - x)
    peak = np.abs(x).max(axis=-1)
    # half a step (peak / 65534), plus float32 rounding of the product
    assert (error.max(axis=-1) <= peak / 65534 * (1 + 1e-3) + 1e-6 * peak).all()
    assert (dequantize(codes, scale_uv)[0, 0] == 0).all()
    assert np.abs(codes[1, 1]).max() == 32767  # the peak maps to full scale: no clipping, no waste


def test_segment_topomaps_match_band_topomaps_per_segment() -> None:
    x = (np.random.default_rng(1).standard_normal((3, 19, 2000)) * 20).astype(np.float32)
    mask = np.ones(19, bool)
    mask[4] = False
    batched = segment_topomaps(x, mask)
    assert batched.shape == (3, 5, 32, 32) and batched.dtype == np.float32
    for i in range(3):
        one = band_topomaps(x[i], 200.0, CANONICAL_19, channel_mask=mask)
        np.testing.assert_allclose(batched[i], one, rtol=1e-4, atol=1e-4)


# --------------------------------------------------------------------------------------------- labels


def _findings() -> Findings:
    return Findings(
        findings=(
            Finding("pdr", frequency_hz=9.5, evidence=(Evidence(0.0, 9.5), Evidence(21.0, 30.0))),
            Finding("pdr_reactive", evidence=(Evidence(9.5, 21.0),)),
            Finding("focal_epileptiform", side="right", regions=("temporal",), evidence=(Evidence(14.96, 15.03, ("T8",)),)),
            # 1.2 s: a segment needs 0.6 s of it; 0.3 s is in the first, 0.9 s in the second
            Finding("focal_slowing", side="left", evidence=(Evidence(9.7, 10.9),)),
            Finding("excess_beta"),
        ),
        state_timeline=(StateSpan(0.0, 13.0, "drowsy"), StateSpan(13.0, 30.0, "awake")),
    )


def test_segment_findings_overlap_rule_shift_and_session_level() -> None:
    truth = _findings()
    first, level = segment_findings(truth, 0.0, 10.0)
    assert first.codes == {"pdr", "excess_beta"}
    assert level == ("excess_beta",)
    assert first.state == "drowsy"
    second, _ = segment_findings(truth, 10.0, 20.0)
    # no PDR in 10-20 s: the reactive attenuation alone is dropped (schema: no reactivity without a PDR)
    assert second.codes == {"focal_epileptiform", "focal_slowing", "excess_beta"}
    spike = second.get("focal_epileptiform")
    assert spike.evidence[0].start_s == pytest.approx(4.96) and spike.evidence[0].end_s == pytest.approx(5.03)
    assert second.state == "awake"  # 7 s awake, 3 s drowsy
    third, _ = segment_findings(truth, 20.0, 30.0)
    assert third.codes == {"pdr", "pdr_reactive", "excess_beta"}  # reactive 20-21 s: 1 s
    assert third.get("pdr").evidence == (Evidence(1.0, 10.0),)


def test_finding_targets() -> None:
    doc = Findings(findings=(Finding("focal_slowing", side="left", regions=("temporal",)),
                             Finding("focal_slowing", side="right", regions=("frontal",)),
                             Finding("grda"))).to_dict()  # fmt: skip
    present, side, regions = finding_targets(doc)
    i = list(CODES).index("focal_slowing")
    assert present.sum() == 2 and present[i] == 1
    assert side[i] == 2  # left and right: bilateral
    assert side[list(CODES).index("grda")] == -1
    assert regions[i].tolist() == [1, 0, 1, 0, 0]


def test_split_is_a_stable_hash_of_source_and_patient() -> None:
    splits = [split_of("tuh", f"p{i}") for i in range(4000)]
    fractions = [splits.count(s) / len(splits) for s in ("train", "val", "test")]
    assert fractions == pytest.approx([0.8, 0.1, 0.1], abs=0.02)
    assert split_of("tuh", "p17") == split_of("tuh", "p17")
    assert {split_of("x", f"p{i}", (0.0, 0.0, 1.0)) for i in range(50)} == {"test"}
    with pytest.raises(ValueError):
        split_of("x", "p", (0.5, 0.5, 0.5))


# ------------------------------------------------------------------------------------------ the layout


def test_layout_dtypes_and_manifest(fake_source, tmp_path: Path) -> None:
    report = build(fake_source, tmp_path / "c", sessions=5, duration_s=30.0, bipolar=(4,))
    out = tmp_path / "c"
    assert report.n_shards == 3 and report.sessions == 5 and report.segments == 15
    assert sorted(p.name for p in out.iterdir()) == ["CARD.md", "build.json", "card.json", "manifest.parquet", "shards"]
    assert sorted(p.name for p in (out / "shards").iterdir()) == ["00000.zarr", "00001.zarr", "00002.zarr"]
    group = zarr.open_group(shard_path(out, 0), mode="r")
    assert group["segments"].dtype == np.int16 and group["segments"].shape == (6, 19, 2000)
    assert group["segments"].chunks == (8, 19, 2000)
    assert group["scale_uv"].dtype == np.float32 and group["scale_uv"].shape == (6, 19)
    assert group["channel_mask"].dtype == bool and group["topomaps"].dtype == np.float16
    assert group["topomaps"].shape == (6, 5, 32, 32)
    assert group.attrs["format"] == "neurocorpus/3"
    table = read_table(out / "manifest.parquet")
    assert table.schema == SCHEMA
    assert pq.ParquetFile(out / "manifest.parquet").schema_arrow == SCHEMA
    rows = table.to_pylist()
    assert [r["kind"] for r in rows[:4]] == ["session", "segment", "segment", "segment"]
    assert sum(r["kind"] == "segment" for r in rows) == 15
    seg = rows[2]
    assert (seg["segment"], seg["start_s"], seg["end_s"], seg["row_start"], seg["row_stop"]) == (1, 10.0, 20.0, 1, 2)
    assert seg["codes"] == ["excess_beta", "focal_slowing"] and seg["session_level_codes"] == ["excess_beta"]
    assert seg["narrative_origin"] == "rendered" and "IMPRESSION" in seg["narrative"]
    assert rows[0]["narrative"] == "Report of s000." and rows[0]["narrative_origin"] == "report"
    assert (rows[0]["age_years"], rows[0]["sex"], rows[0]["icd10"]) == (30.0, None, ["G40.909"])
    bipolar = [r for r in rows if r["key"] == "s004"]
    assert {r["montage"] for r in bipolar} == {"bipolar"}
    card = json.loads((out / "card.json").read_text())
    assert card["counts"]["total"] == {"patients": 3, "sessions": 5, "segments": 15}
    assert card["prevalence"]["sessions"]["focal_slowing"] == 1.0
    assert card["prevalence"]["segments"]["focal_slowing"] == pytest.approx(2 / 3)
    assert card["code"]["neuronarrator"] and "built_at" in card and set(card["shards"]) == {"00000.zarr", "00001.zarr", "00002.zarr"}


def test_round_trip_of_signal_findings_and_bipolar_rows(fake_source, tmp_path: Path) -> None:
    build(fake_source, tmp_path / "c", sessions=4, duration_s=35.0, bipolar=(3,))
    table = read_table(tmp_path / "c/manifest.parquet").to_pylist()
    for key in ("s000", "s003"):
        item = next(i for i in fake_source.list_items(None, sessions=4, duration_s=35.0, bipolar=(3,)) if i.key == key)
        data = fake_source.load(item)
        session = next(r for r in table if r["kind"] == "session" and r["key"] == key)
        assert Findings.from_dict(json.loads(session["findings"])).to_dict() == data.findings.to_dict()
        assert session["end_s"] == 30.0  # 3 whole segments; the last 5 s are not stored
        reader = ShardReader(shard_path(tmp_path / "c", session["shard"]))
        stored = reader.segments_uv(session["row_start"], session["row_stop"])  # (3, 19, 2000)
        n = data.data_uv.shape[0]
        expected = data.data_uv[:, :6000].reshape(n, 3, 2000).transpose(1, 0, 2)
        peak = np.abs(expected).max(axis=-1, keepdims=True)
        assert (np.abs(stored[:, :n] - expected) <= peak * (1 / 65534 + 1e-6)).all()  # half a step + float32
        mask = reader.small("channel_mask")[session["row_start"]]
        assert mask.tolist() == data.channel_mask.tolist() + [False] * (19 - n)
        if n == 18:
            assert (stored[:, 18] == 0).all()
            assert (reader.row("topomaps", session["row_start"]) == 0).all()  # no map for derivations


def test_fast_chunk_reader_equals_zarr(fake_source, tmp_path: Path) -> None:
    build(fake_source, tmp_path / "c", sessions=4, duration_s=30.0, bipolar=(0, 1, 2), shard_sessions=4)
    path = shard_path(tmp_path / "c", 0)
    group = zarr.open_group(path, mode="r")
    for name in ("segments", "scale_uv", "channel_mask", "topomaps"):
        fast = ChunkedArray(path / name)
        assert fast.fast
        np.testing.assert_array_equal(fast.rows(0, fast.shape[0]), group[name][:])
        np.testing.assert_array_equal(fast.rows(3, 11), group[name][3:11])
    # rows 0-7 are bipolar: their all-zero topomap chunk is never written, and reads as zeros
    assert not (path / "topomaps/c/0/0/0/0").exists()


def test_bad_input_is_skipped_and_recorded(fake_source, tmp_path: Path) -> None:
    report = build(fake_source, tmp_path / "c", sessions=4, bad=(1,))
    assert report.sessions == 3
    assert report.skipped == [{"source": "fake", "key": "s001", "file": "/data/s001.edf",
                               "reason": "the header says 12 records, the file holds 3"}]  # fmt: skip
    card = json.loads((tmp_path / "c/card.json").read_text())
    assert card["skipped"] == report.skipped and card["sources"][0]["skipped"] == 1
    assert "s001" in (tmp_path / "c/CARD.md").read_text()


def test_too_short_session_is_skipped(fake_source, tmp_path: Path) -> None:
    report = build(fake_source, tmp_path / "c", sessions=2, duration_s=8.0)
    assert report.sessions == 0 and len(report.skipped) == 2
    assert "shorter than one 10-s segment" in report.skipped[0]["reason"]


def test_adapter_bug_fails_the_build_clearly_and_keeps_good_shards(fake_source, tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"1 of 2 shards failed.*fake:s003: ZeroDivisionError: an adapter bug"):
        build(fake_source, tmp_path / "c", sessions=4, crash=(3,))
    assert (tmp_path / "c/shards/00000.zarr/shard.json").is_file()
    assert not (tmp_path / "c/shards/00001.zarr").exists()
    assert not [p for p in (tmp_path / "c/shards").iterdir() if "partial" in p.name]
    assert not (tmp_path / "c/manifest.parquet").exists()


def test_adding_a_source_never_moves_a_patient(fake_source, tmp_path: Path) -> None:
    build(fake_source, tmp_path / "a", sessions=40, duration_s=10.0, shard_sessions=8)
    build_corpus([(fake_source, None, {"sessions": 40, "duration_s": 10.0}),
                  (fake_source, None, {"sessions": 30, "duration_s": 10.0, "prefix": "t"})],
                 tmp_path / "b", scheduler="synchronous", shard_sessions=8)  # fmt: skip
    before = {(r["patient"], r["split"]) for r in read_table(tmp_path / "a/manifest.parquet").to_pylist()}
    after = read_table(tmp_path / "b/manifest.parquet").to_pylist()
    assert before <= {(r["patient"], r["split"]) for r in after}
    by_patient: dict[str, set[str]] = {}
    for r in after:
        by_patient.setdefault(r["patient"], set()).add(r["split"])
    assert all(len(s) == 1 for s in by_patient.values())
    assert {s for (s,) in by_patient.values()} == {"train", "val", "test"}
