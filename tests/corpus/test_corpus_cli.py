"""``neuronarrator corpus build | info | verify`` as a user meets them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pytest

from neuronarrator.cli import main, parse_source
from neuronarrator.corpus.manifest import read_table, write_table
from neuronarrator.corpus.sources import SOURCES


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def with_fake(monkeypatch: pytest.MonkeyPatch, fake_source) -> None:
    monkeypatch.setitem(SOURCES, "fake", fake_source)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, fake_source) -> Path:
    """A finished corpus of 8 fake sessions (4 patients, 3 shards) to copy and damage."""
    from neuronarrator.corpus.build import build_corpus

    out = tmp_path_factory.mktemp("built") / "c"
    build_corpus([(fake_source, None, {"sessions": 8, "duration_s": 20.0})], out, shard_sessions=3,
                 scheduler="synchronous", split_fractions=(0.5, 0.25, 0.25))  # fmt: skip
    return out


@pytest.fixture
def corpus_copy(built: Path, tmp_path: Path) -> Path:
    shutil.copytree(built, tmp_path / "c")
    return tmp_path / "c"


def test_parse_source() -> None:
    assert parse_source("phantom") == ("phantom", None, {})
    assert parse_source("edf:../data/eegmmidb") == ("edf", Path("../data/eegmmidb"), {})
    assert parse_source("phantom?sessions=1000&duration_s=100.5&name=x&flag=true") == (
        "phantom", None, {"sessions": 1000, "duration_s": 100.5, "name": "x", "flag": True})
    assert parse_source("sleep-edf:/a/b?max=3") == ("sleep-edf", Path("/a/b"), {"max": 3})


def test_build_info_verify(capsys, with_fake, tmp_path: Path) -> None:
    out = tmp_path / "c"
    code, stdout, err = run(capsys, "corpus", "build", "fake?sessions=5", "--out", out, "--shard-sessions", "2",
                            "--scheduler", "synchronous")  # fmt: skip
    assert code == 0, err
    assert "5 sessions, 15 segments in 3 shards (3 built, 0 reused)" in stdout
    code, stdout, err = run(capsys, "corpus", "build", "fake?sessions=5", "--out", out, "--shard-sessions", "2",
                            "--scheduler", "synchronous")  # fmt: skip
    assert code == 0 and "(0 built, 3 reused)" in stdout
    code, stdout, err = run(capsys, "corpus", "info", out)
    assert code == 0, err
    assert "source fake (generated): 5 sessions, 15 segments, 0 skipped" in stdout
    assert "total" in stdout and "focal_slowing 100.0%/66.7%" in stdout
    code, stdout, _ = run(capsys, "corpus", "info", out, "--json")
    assert json.loads(stdout)["counts"]["total"]["segments"] == 15
    code, stdout, err = run(capsys, "corpus", "verify", out)
    assert (code, err) == (0, "") and "OK" in stdout


def test_build_reports_skipped_files_and_refuses_another_corpus(capsys, with_fake, tmp_path: Path) -> None:
    code, stdout, err = run(capsys, "corpus", "build", "fake?sessions=3&bad=1", "--out", tmp_path / "c",
                            "--scheduler", "synchronous")  # fmt: skip
    assert code == 0, err
    assert "1 skipped" in stdout and "skipped /data/s001.edf: the header says 12 records" in stdout
    other = "fake?sessions=3&prefix=b"
    code, stdout, err = run(capsys, "corpus", "build", other, "--out", tmp_path / "c", "--scheduler", "synchronous")
    assert code == 4 and err.count("\n") == 1 and "other parameters" in err and "--force" in err
    code, stdout, err = run(capsys, "corpus", "build", other, "--out", tmp_path / "c", "--scheduler", "synchronous",
                            "--force")  # fmt: skip
    assert code == 0, err


def test_build_errors_are_one_line(capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "corpus", "build", "nosuch", "--out", tmp_path / "c")
    assert code == 4 and err.strip().count("\n") == 0 and "unknown source 'nosuch'" in err
    code, _, err = run(capsys, "corpus", "build", "phantom?sessions", "--out", tmp_path / "c")
    assert code == 2 and "opt=val" in err
    code, _, err = run(capsys, "corpus", "info", tmp_path)
    assert code == 4 and "not a finished corpus" in err


def test_verify_catches_a_corrupted_chunk(capsys, corpus_copy: Path) -> None:
    chunk = corpus_copy / "shards/00001.zarr/segments/c/0/0/0"
    raw = bytearray(chunk.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    chunk.write_bytes(bytes(raw))
    code, _, err = run(capsys, "corpus", "verify", corpus_copy)
    assert code == 1
    assert "shards/00001.zarr/segments/c/0/0/0: sha256 differs from shard.json's (corrupted)" in err
    assert all(line.startswith("neuronarrator: ") for line in err.strip().splitlines())


def test_verify_catches_a_patient_in_two_splits(capsys, corpus_copy: Path) -> None:
    table = read_table(corpus_copy / "manifest.parquet")
    splits = table.column("split").to_pylist()
    patients = table.column("patient").to_pylist()
    last = len(splits) - 1  # the last segment row of the last patient: move it to another split
    splits[last] = next(s for s in ("train", "val", "test") if s != splits[last])
    table = table.set_column(table.schema.get_field_index("split"), "split", pa.array(splits))
    write_table(table, corpus_copy / "manifest.parquet")
    code, _, err = run(capsys, "corpus", "verify", corpus_copy)
    assert code == 1
    assert f"patient fake:{patients[last]}: in 2 splits" in err
    assert "manifest.parquet: content sha256 differs from the card's" in err


def test_verify_catches_a_missing_shard(capsys, corpus_copy: Path) -> None:
    shutil.rmtree(corpus_copy / "shards/00002.zarr")
    code, _, err = run(capsys, "corpus", "verify", corpus_copy)
    assert code == 1 and "shards/00002.zarr: missing" in err


def test_verify_catches_an_undecodable_chunk_with_matching_checksums(capsys, corpus_copy: Path) -> None:
    from neuronarrator.corpus.verify import verify_corpus

    # rewrite a chunk and its recorded checksums consistently: only decoding can tell
    shard = corpus_copy / "shards/00000.zarr"
    (shard / "topomaps/c/0/0/0/0").write_bytes(b"not blosc")
    info = json.loads((shard / "shard.json").read_text())
    from neuronarrator.corpus.manifest import file_digest

    info["files"]["topomaps/c/0/0/0/0"] = file_digest(shard / "topomaps/c/0/0/0/0")
    (shard / "shard.json").write_text(json.dumps(info))
    problems = verify_corpus(corpus_copy)
    assert any("shards/00000.zarr/shard.json: sha256 differs from the card's" in p for p in problems)
    assert any("shards/00000.zarr/topomaps: rows 0-8 unreadable" in p for p in problems)
