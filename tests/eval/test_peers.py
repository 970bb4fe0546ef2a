"""Short-window peers: our two models, the shared training recipe, session embeddings, and braindecode's
peers (skipped, with the import error, where braindecode cannot be imported)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from neuronarrator.clinical.findings import CODES
from neuronarrator.corpus.build import build_corpus
from neuronarrator.corpus.datasets import SegmentDataset
from neuronarrator.eval.peers import (
    INPUT_SCALE_UV,
    PEERS,
    build_peer,
    embed_sessions,
    masked_bce,
    peer_available,
    prepare_input,
    train_peer,
)
from neuronarrator.eval.short_window import BiotStyle, LabramStyle
from neuronarrator.eval.signals import SessionSignal

OWN = ("biot_style", "labram_style")
BRAINDECODE = ("biot", "labram", "cbramod")
TINY = {"d_model": 32, "n_layers": 1, "n_heads": 2}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, fake_source) -> Path:
    """6 fake sessions of 20 s (12 segments; session 4 bipolar, session 5 with partial labels), all in train."""
    out = tmp_path_factory.mktemp("peers") / "c"
    build_corpus([(fake_source, None, {"sessions": 6, "duration_s": 20.0, "bipolar": (4,), "partial": (5,)})],
                 out, shard_sessions=3, scheduler="synchronous", split_fractions=(1.0, 0.0, 0.0))  # fmt: skip
    return out


def _batch(n: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 19, 2000, generator=g)
    mask = torch.ones(n, 19, dtype=torch.bool)
    mask[0, 7] = False
    mask[1, 18] = False
    return x, mask


@pytest.mark.parametrize("cls", [BiotStyle, LabramStyle])
def test_own_models_shapes_and_size(cls) -> None:
    torch.manual_seed(0)
    net = cls(len(CODES)).eval()
    x, mask = _batch()
    bipolar = torch.tensor([False, True, False])
    with torch.no_grad():
        assert net(x, mask, bipolar).shape == (3, len(CODES))
        feats = net.features(x, mask, bipolar)
    assert feats.shape == (3, 64) and torch.isfinite(feats).all()
    assert sum(p.numel() for p in net.parameters()) < 1_000_000
    with torch.no_grad():  # the montage embedding is used
        assert not torch.allclose(feats, net.features(x, mask, ~bipolar))


@pytest.mark.parametrize("cls", [BiotStyle, LabramStyle])
def test_masked_channels_do_not_reach_the_embedding(cls) -> None:
    torch.manual_seed(0)
    net = cls(len(CODES), **TINY).eval()
    x, mask = _batch()
    changed = x.clone()
    changed[0, 7] += 100.0  # masked in item 0
    changed[1, 18] = torch.randn(2000)  # masked in item 1
    with torch.no_grad():
        before, after = net.features(x, mask), net.features(changed, mask)
        assert torch.allclose(before, after, atol=1e-5)
        changed[2, 3] += 5.0  # an unmasked channel does change it
        assert not torch.allclose(before[2], net.features(changed, mask)[2], atol=1e-3)
        none = net.features(x, torch.zeros_like(mask))  # no channel at all: still finite
    assert torch.isfinite(none).all()


def test_prepare_input_scales_and_zeroes_masked_rows() -> None:
    x, mask = _batch()
    out = prepare_input(x * INPUT_SCALE_UV, mask)
    assert torch.allclose(out[2], x[2], atol=1e-5)
    assert out[0, 7].abs().sum() == 0 and out[1, 18].abs().sum() == 0


def test_masked_bce_counts_only_positives_where_labels_are_partial() -> None:
    logits = torch.zeros(2, 3)
    targets = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    complete = masked_bce(logits, targets, torch.tensor([True, True]))
    partial = masked_bce(logits + torch.tensor([0.0, 9.0, 9.0]), targets, torch.tensor([False, False]))
    assert complete.item() == pytest.approx(np.log(2.0), rel=1e-5)
    assert partial.item() == pytest.approx(np.log(2.0), rel=1e-5)  # the confident wrong negatives are ignored


def _mean_loss(net: torch.nn.Module, corpus: Path) -> float:
    dataset = SegmentDataset(corpus, "train", fields=("waveform", "findings"))
    batch = default_collate([dataset[i] for i in range(len(dataset))])
    mask = batch["channel_mask"]
    bipolar = torch.tensor([m == "bipolar" for m in batch["montage"]])
    net.eval()
    with torch.no_grad():
        logits = net(prepare_input(batch["waveform"], mask), mask, bipolar)
    return masked_bce(logits, batch["findings"], batch["labels_complete"]).item()


@pytest.mark.parametrize("name", OWN)
def test_training_lowers_the_loss(name: str, corpus: Path) -> None:
    model = train_peer(name, corpus, steps=10, batch_size=6, lr=3e-3, seed=0, device="cpu", log_every=5,
                       model_kwargs=TINY)  # fmt: skip
    torch.manual_seed(0)
    untrained = build_peer(name, len(CODES), **TINY)  # the same initialisation as train_peer's
    before, after = _mean_loss(untrained, corpus), _mean_loss(model.net, corpus)
    assert after < 0.8 * before
    assert [s for s, _ in model.history] == [5, 10]
    assert model.history[-1][1] < model.history[0][1]
    assert model.dim == 32 and model.n_params == sum(p.numel() for p in model.net.parameters())
    assert not model.net.training


def test_training_is_deterministic_given_the_seed(corpus: Path) -> None:
    def run(seed: int) -> dict[str, torch.Tensor]:
        model = train_peer(
            "labram_style", corpus, steps=3, batch_size=4, seed=seed, device="cpu", model_kwargs=TINY
        )
        return model.net.state_dict()

    a, b, c = run(0), run(0), run(1)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_embed_sessions_pools_windows_and_pads_short_sessions(corpus: Path) -> None:
    model = train_peer("biot_style", corpus, steps=2, batch_size=4, device="cpu", model_kwargs=TINY)
    rng = np.random.default_rng(0)
    mask = np.ones(19, bool)
    mask[7] = False
    long = SessionSignal(
        (rng.standard_normal((19, 2 * 2000 + 700)) * 20).astype(np.float32), mask, "referential", "a"
    )
    short = SessionSignal((rng.standard_normal((19, 1000)) * 20).astype(np.float32), mask, "referential", "b")
    bipolar = SessionSignal(long.data_uv, np.arange(19) < 18, "bipolar", "c")
    out = embed_sessions(model, [long, short, bipolar], batch_size=2)
    assert out.shape == (3, model.dim) and out.dtype == np.float32

    def direct(windows: np.ndarray, m: np.ndarray, is_bipolar: bool) -> np.ndarray:
        x = torch.from_numpy(windows)
        mm = torch.from_numpy(np.repeat(m[None], len(windows), 0))
        with torch.no_grad():
            feats = model.net.features(prepare_input(x, mm), mm, torch.full((len(windows),), is_bipolar))
        return feats.mean(0).numpy()

    two = long.data_uv[:, :4000].reshape(19, 2, 2000).transpose(1, 0, 2)  # the trailing 3.5 s are left out
    np.testing.assert_allclose(out[0], direct(np.ascontiguousarray(two), mask, False), atol=1e-5)
    padded = np.zeros((1, 19, 2000), np.float32)
    padded[0, :, :1000] = short.data_uv
    np.testing.assert_allclose(out[1], direct(padded, mask, False), atol=1e-5)
    assert not np.allclose(out[0], out[2], atol=1e-4)  # same samples, other montage and mask
    with pytest.raises(ValueError, match="10-s windows"):
        embed_sessions(model, [long], window_s=5.0)


def test_registry_and_availability() -> None:
    assert set(PEERS) == set(OWN) | set(BRAINDECODE)
    for name in OWN:
        assert peer_available(name) == (True, "")
        assert "ours" in PEERS[name].title
    for name in BRAINDECODE:
        ok, reason = peer_available(name)
        if ok:
            assert reason == ""
        else:  # the real import error, on one line
            assert reason and "\n" not in reason
            assert "braindecode" in reason or "torchaudio" in reason
            with pytest.raises(RuntimeError, match="not available"):
                build_peer(name)
    with pytest.raises(KeyError, match="unknown peer"):
        peer_available("eegnet")


#: braindecode's peers, shrunk to one layer so that the test runs in seconds on a CPU, and their embedding width
SMALL = {
    "biot": ({"embed_dim": 32, "num_heads": 2, "num_layers": 1}, 32),
    "labram": ({"num_layers": 1}, 200),
    "cbramod": ({"n_layer": 1, "dim_feedforward": 64, "emb_dim": 32}, 32),
}


@pytest.mark.parametrize("name", BRAINDECODE)
def test_braindecode_peer_trains_and_embeds(name: str, corpus: Path) -> None:
    ok, reason = peer_available(name)
    if not ok:
        pytest.skip(reason)
    kwargs, dim = SMALL[name]
    x, mask = _batch(2)
    torch.manual_seed(0)
    net = build_peer(name, len(CODES), **kwargs).eval()
    with torch.no_grad():
        assert net(prepare_input(x, mask), mask).shape == (2, len(CODES))
        feats = net.features(prepare_input(x, mask), mask)
    assert feats.shape == (2, dim) and torch.isfinite(feats).all()
    model = train_peer(name, corpus, steps=2, batch_size=4, device="cpu", model_kwargs=kwargs)
    assert model.dim == dim and len(model.history) == 1
    sessions = [SessionSignal(x[0].numpy() * 20, mask[0].numpy(), "referential", "s"),
                SessionSignal(x[1, :, :1500].numpy() * 20, mask[1].numpy(), "bipolar", "t")]  # fmt: skip
    out = embed_sessions(model, sessions)
    assert out.shape == (2, dim) and np.isfinite(out).all()
