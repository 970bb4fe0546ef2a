"""The PyTorch datasets: shapes, values, the deterministic local sampler, several DataLoader workers."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from neuronarrator.clinical.findings import CODES
from neuronarrator.corpus.build import build_corpus
from neuronarrator.corpus.datasets import SegmentDataset, SessionDataset, ShardBlockSampler, collate_sessions
from neuronarrator.corpus.manifest import read_table
from neuronarrator.io.errors import CorpusError

CODES_LIST = list(CODES)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, fake_source) -> Path:
    """10 fake sessions of 30 s (30 segments; session 9 bipolar), 3 per shard, every patient in train."""
    out = tmp_path_factory.mktemp("corpus") / "c"
    build_corpus([(fake_source, None, {"sessions": 10, "duration_s": 30.0, "bipolar": (9,)})], out,
                 shard_sessions=3, scheduler="synchronous", split_fractions=(1.0, 0.0, 0.0))  # fmt: skip
    return out


def test_segment_items_shapes_dtypes_and_values(corpus: Path, fake_source) -> None:
    ds = SegmentDataset(corpus, "train")
    assert len(ds) == 30
    item = ds[4]  # session s001, segment 1 (10-20 s)
    assert item["waveform"].shape == (19, 2000) and item["waveform"].dtype == torch.float32
    assert item["channel_mask"].dtype == torch.bool and not item["channel_mask"][7]
    assert item["topomap"].shape == (5, 32, 32) and item["topomap"].dtype == torch.float32
    assert item["findings"].shape == (len(CODES),) and item["side"].dtype == torch.int64
    assert item["regions"].shape == (len(CODES), 5)
    assert isinstance(item["narrative"], str) and "IMPRESSION" in item["narrative"]
    present = {CODES_LIST[i] for i in torch.nonzero(item["findings"]).flatten().tolist()}
    assert present == {"focal_slowing", "excess_beta"}
    data = fake_source.load(next(i for i in fake_source.list_items(None, sessions=10, duration_s=30.0) if i.key == "s001"))
    expected = data.data_uv[:, 2000:4000]
    assert np.abs(item["waveform"].numpy() - expected).max() <= np.abs(expected).max() / 30000
    bipolar = ds[29]
    assert bipolar["montage"] == "bipolar" and not bipolar["channel_mask"][18] and (bipolar["topomap"] == 0).all()


def test_fields_subset_reads_only_what_is_asked(corpus: Path) -> None:
    ds = SegmentDataset(corpus, "train", fields=("findings",))
    assert set(ds[0]) == {"index", "montage", "findings", "side", "regions", "labels_complete", "state_known", "state"}
    with pytest.raises(ValueError, match="unknown fields"):
        SegmentDataset(corpus, "train", fields=("spectrum",))
    assert len(SegmentDataset(corpus, "test")) == 0


def test_topomaps_computed_on_the_fly_match_the_cached_ones(corpus: Path, tmp_path: Path, fake_source) -> None:
    out = tmp_path / "nocache"
    build_corpus([(fake_source, None, {"sessions": 2, "duration_s": 30.0})], out, shard_sessions=3,
                 scheduler="synchronous", cache_topomaps=False, split_fractions=(1.0, 0.0, 0.0))  # fmt: skip
    assert not (out / "shards/00000.zarr/topomaps").exists()
    cached, computed = SegmentDataset(corpus, "train", fields=("topomap",)), SegmentDataset(out, "train", fields=("topomap",))
    for i in range(6):
        np.testing.assert_allclose(computed[i]["topomap"], cached[i]["topomap"], atol=4e-3)  # float16 storage


def test_session_items_and_collate(corpus: Path) -> None:
    ds = SessionDataset(corpus, "train")
    assert len(ds) == 10
    item = ds[0]
    assert item["spectrogram"].shape == (19, 161, 26)  # 30 s: 26 windows of 5 s at a 1 s hop; 0-32 Hz at 0.2 Hz
    assert torch.isfinite(item["spectrogram"]).all()
    assert item["report"] == "Report of s000." and item["narrative_origin"] == "report"
    assert (item["sex"], item["icd10"], item["atc"]) == ("", ["G40.909"], [])
    assert item["age_years"] == 30.0
    batch = collate_sessions([ds[0], ds[1]])
    assert batch["spectrogram"].shape == (2, 19, 161, 26) and batch["n_windows"].tolist() == [26, 26]
    assert batch["age_years"].tolist() == [30.0, 31.0] and batch["sex"] == ["", "female"]


def test_sampler_is_deterministic_complete_and_local(corpus: Path) -> None:
    ds = SegmentDataset(corpus, "train", fields=())
    sampler = ShardBlockSampler(ds, seed=3, block_rows=4)
    first = list(sampler)
    assert sorted(first) == list(range(len(ds))) and len(sampler) == len(ds)
    assert list(ShardBlockSampler(ds, seed=3, block_rows=4)) == first
    sampler.set_epoch(1)
    assert list(sampler) != first and sorted(sampler) == list(range(len(ds)))
    assert list(ShardBlockSampler(ds, seed=4, block_rows=4)) != first
    # local: each shard's items come out together, in blocks of 4 consecutive rows
    shards = [int(ds.shards[i]) for i in first]
    changes = sum(a != b for a, b in zip(shards, shards[1:], strict=False))
    assert changes == len(set(shards)) - 1
    for start in range(0, 9, 4):  # shard 0 holds 9 rows: blocks 0-3, 4-7, 8
        block = [i for i in first if ds.shards[i] == 0 and start <= ds.rows[i] < start + 4]
        positions = [first.index(i) for i in block]
        assert max(positions) - min(positions) == len(block) - 1


def test_dataloader_with_two_workers_reads_everything_once(corpus: Path) -> None:
    ds = SegmentDataset(corpus, "train")
    ds[0]  # open a reader in the parent: workers must not inherit it
    sampler = ShardBlockSampler(ds, seed=0)
    loader = DataLoader(ds, batch_size=4, sampler=sampler, num_workers=2)
    batches = list(loader)
    indices = torch.cat([b["index"] for b in batches]).tolist()
    assert indices == list(sampler)
    waveforms = torch.cat([b["waveform"] for b in batches])
    assert waveforms.shape == (30, 19, 2000)
    single = torch.stack([ds[i]["waveform"] for i in indices])
    assert torch.equal(waveforms, single)
    assert sum(len(b["narrative"]) for b in batches) == 30


def test_dataset_pickles_without_open_readers(corpus: Path) -> None:
    ds = SegmentDataset(corpus, "train")
    ds[0]
    assert ds._readers
    clone = pickle.loads(pickle.dumps(ds))
    assert clone._readers == {}
    assert torch.equal(clone[5]["waveform"], ds[5]["waveform"])


def test_missing_manifest_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="not a finished corpus"):
        SegmentDataset(tmp_path, "train")


def test_segment_labels_agree_with_the_manifest(corpus: Path) -> None:
    rows = read_table(corpus / "manifest.parquet").to_pylist()
    segments = [r for r in rows if r["kind"] == "segment"]
    ds = SegmentDataset(corpus, "train", fields=("findings",))
    for i, row in enumerate(segments):
        codes = {CODES_LIST[j] for j in torch.nonzero(ds[i]["findings"]).flatten().tolist()}
        assert codes == set(row["codes"]) == set(c["code"] for c in json.loads(row["findings"])["findings"])


def test_chunk_cache_is_bounded_across_shards(corpus: Path) -> None:
    ds = SegmentDataset(corpus, "train", fields=("waveform", "topomap"), cache_chunks=3)
    first = [ds[i]["waveform"] for i in range(len(ds))]
    assert len(ds._readers) == 4 and len(ds._cache) == 3  # one cache for every shard's reader
    assert all(torch.equal(a, ds[i]["waveform"]) for i, a in enumerate(first))
