"""States the labels do not give are null, not ``"awake"``; session spectrograms cover the extra derivations."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from neuronarrator.corpus.build import build_corpus
from neuronarrator.corpus.card import CARD_MD
from neuronarrator.corpus.datasets import SegmentDataset, SessionDataset, collate_sessions
from neuronarrator.corpus.manifest import read_table
from neuronarrator.corpus.sources import get_source
from neuronarrator.corpus.sources.common import Labels
from neuronarrator.corpus.verify import verify_corpus
from neuronarrator.io.channels import CANONICAL_19


def _build(fake_source, out: Path, **listing) -> None:
    build_corpus([(fake_source, None, listing)], out, scheduler="synchronous", shard_sessions=3,
                 split_fractions=(1.0, 0.0, 0.0))  # fmt: skip


def test_state_known_defaults_to_labels_complete(fake_source) -> None:
    items = list(fake_source.list_items(None, sessions=2, partial=(1,)))
    full, partial = (fake_source.load(i) for i in items)
    assert full.state_known is None and full.knows_state
    assert partial.state_known is None and not partial.knows_state
    partial.state_known = True  # a hypnogram on partial labels
    assert partial.knows_state
    assert Labels().state_known is False  # an adapter states what it knows, never by default


def test_partial_labels_give_a_null_state_and_state_known_false(fake_source, tmp_path: Path) -> None:
    out = tmp_path / "c"
    _build(fake_source, out, sessions=3, partial=(1,), bipolar=(2,), extras=(2,))
    assert verify_corpus(out) == []
    rows = read_table(out / "manifest.parquet").to_pylist()
    full = [r for r in rows if r["key"] == "s000"]
    partial = [r for r in rows if r["key"] == "s001"]
    # complete labels: the state and its timeline are labels
    assert [r["state"] for r in full] == ["awake", "drowsy", "awake", "awake"]
    assert json.loads(full[0]["findings"])["state_timeline"]
    # partial labels (events only): no state, no timeline, on the session and on every segment
    assert [r["state"] for r in partial] == [None] * 4
    assert all(json.loads(r["findings"])["state_timeline"] == [] for r in partial)
    card = json.loads((out / "card.json").read_text())
    assert card["states"] == {"sessions": {"awake": 2, "unknown": 1},
                              "segments": {"awake": 4, "drowsy": 2, "unknown": 3}}  # fmt: skip
    assert "States: sessions awake 2, unknown 1" in (out / CARD_MD).read_text()

    segments = SegmentDataset(out, None, fields=("findings",))
    by_key = {}
    for i in range(len(segments)):
        by_key.setdefault(segments.value("session_id", i), []).append(segments[i])
    assert {it["state_known"] for it in by_key["fake:s000"]} == {True}
    assert {(it["state_known"], it["labels_complete"]) for it in by_key["fake:s001"]} == {(False, False)}
    sessions = SessionDataset(out, None)
    known = {sessions.value("session_id", i): sessions[i]["state_known"] for i in range(len(sessions))}
    assert known == {"fake:s000": True, "fake:s001": False, "fake:s002": True}
    batch = next(iter(DataLoader(sessions, batch_size=3, collate_fn=collate_sessions)))
    assert batch["state_known"].dtype == torch.bool and batch["state_known"].tolist() == [True, False, True]


def test_session_spectrogram_covers_the_extras_and_batches_padded(fake_source, tmp_path: Path) -> None:
    out = tmp_path / "c"
    _build(fake_source, out, sessions=3, bipolar=(1, 2), extras=(1, 2))
    ds = SessionDataset(out, None)
    items = [ds[i] for i in range(len(ds))]
    assert [it["spectrogram"].shape[0] for it in items] == [19, 21, 22]
    assert items[0]["spectrogram_channels"] == CANONICAL_19
    assert items[2]["spectrogram_channels"][-4:] == ("", "Fpz-Cz", "Pz-Oz", "T7-FT9")
    assert items[2]["spectrogram_mask"].tolist() == [True] * 18 + [False] + [True] * 3
    assert (items[2]["spectrogram"][19:] > 0).all()  # the extras' power, not masked zeros
    plain = SessionDataset(out, None, extras=False)[2]
    assert plain["spectrogram"].shape[0] == 19 and plain["spectrogram_channels"][-1] == ""
    torch.testing.assert_close(plain["spectrogram"], items[2]["spectrogram"][:19])

    batch = collate_sessions(items)
    assert batch["spectrogram"].shape[:2] == (3, 22) and batch["spectrogram_mask"].shape == (3, 22)
    assert batch["spectrogram_mask"][0].tolist() == [True] * 7 + [False] + [True] * 11 + [False] * 3
    assert batch["spectrogram_channels"][1][-4:] == ("", "Fpz-Cz", "Pz-Oz", "")
    assert (batch["spectrogram"][0, 19:] == 0).all() and (batch["spectrogram"][1, 21:] == 0).all()
    assert batch["channel_mask"].shape == (3, 19)


@pytest.mark.slow
def test_sleep_edf_state_is_known_and_its_spectrogram_has_the_extras(
    shared_data: Path, tmp_path: Path
) -> None:
    root = shared_data / "sleep-edf"
    if not root.is_dir():
        pytest.skip(f"{root} is absent")
    (item,) = get_source("sleep-edf").list_items(root)
    data = get_source("sleep-edf").load(item)
    assert data.state_known is True and data.knows_state and not data.labels_complete
    build_corpus([("sleep-edf", root, {})], tmp_path / "c", scheduler="synchronous")
    assert verify_corpus(tmp_path / "c") == []
    rows = read_table(tmp_path / "c/manifest.parquet").to_pylist()
    assert {r["state"] for r in rows} == {"awake"}
    (session,) = SessionDataset(tmp_path / "c", None)
    assert session["state_known"] and not session["labels_complete"]
    channels = session["spectrogram_channels"]
    assert session["spectrogram"].shape[0] == 21 and channels[-2:] == ("Fpz-Cz", "Pz-Oz")
    assert session["spectrogram_mask"].tolist() == [False] * 19 + [True, True]
    power = session["spectrogram"].numpy()
    assert (power[:19] == 0).all()  # the double banana is all masked for this file
    assert (power[19:].sum(axis=(1, 2)) > 0).all() and np.isfinite(power).all()
    assert (power[19:].mean(axis=-1) > 0).all()  # power in every frequency bin of both derivations
